/**
 * The JS RPC interface between the Worker and its tenant's TenantLimiter Durable Object: its methods and their
 * messages. Only the Worker's own code reaches the object (through its binding), so the types are the contract.
 */
import type {
  Admission,
  KeyedAdmission,
  KeyScreen,
  Reservation,
  UsageRecord,
} from '../../api/tenancy.ts';
import type { LimiterLimits } from './buckets.ts';
import type { KeyCheck } from './key-directory.ts';

export interface AdmitMessage {
  limits: LimiterLimits;
  reservedTokens: number;
  leaseTtlMs: number;
}

export interface ReserveMessage {
  limits: LimiterLimits;
  leaseId: string;
  reservedTokens: number;
}

export interface ReleaseMessage {
  limits: LimiterLimits;
  leaseId: string;
  usedTokens: number;
  /** The request's usage record, written to D1 by the object (after the answer, in batches). */
  usage?: UsageRecord;
}

/** A key checked by the object itself: the tenant it names and the SHA-256 of the whole key. */
export interface KeyMessage {
  tenantId: string;
  keyHash: string;
}

/** Authentication and admission in one call; the limits are the object's own copy of the tenant's. */
export interface KeyedAdmitMessage extends KeyMessage {
  /** JSON of the tenant record the Worker checked the request against; another one answers `staleTenant`. */
  tenantSeen: string;
  reservedTokens: number;
  leaseTtlMs: number;
}

export interface ReleaseReply {
  released: boolean;
}

/** The object's methods (TenantLimiterCore implements them; the Durable Object class delegates to it). */
export interface TenantLimiterRpc {
  admit(message: AdmitMessage): Admission;
  reserve(message: ReserveMessage): Reservation;
  release(message: ReleaseMessage): Promise<ReleaseReply>;
  /** Checks the key and admits in one call. */
  admitKey(message: KeyedAdmitMessage): Promise<KeyedAdmission>;
  authenticate(message: KeyMessage): Promise<KeyCheck>;
  /** Checks the key and whether the tenant can run anything now; reserves nothing. */
  screenKey(message: KeyMessage): Promise<KeyScreen>;
  /** Writes pending usage to D1; answers how many records are still unwritten. */
  flushUsage(): Promise<number>;
  /** Forgets the tenant and keys read from D1. */
  invalidate(): void;
}
