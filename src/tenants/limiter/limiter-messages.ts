/**
 * The fetch protocol between the Worker and its tenant's TenantLimiter object: the paths, the messages and their
 * checks (the object answers 400 to anything else).
 */
import type { UsageRecord } from '../../api/tenancy.ts';
import type { LimiterLimits } from './buckets.ts';

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

/** Paths of the DO's fetch protocol (the host is ignored). */
export const LIMITER_PATHS = {
  admit: '/admit',
  admitKey: '/admit-key',
  authenticate: '/authenticate',
  reserve: '/reserve',
  release: '/release',
  flush: '/flush',
  invalidate: '/invalidate',
} as const;

export function isLimits(value: unknown): value is LimiterLimits {
  if (!value || typeof value !== 'object') return false;
  const limits = value as Record<string, unknown>;
  const numberOrNull = (key: string) => limits[key] === null || typeof limits[key] === 'number';
  return (
    ['rpm', 'tpm', 'maxConcurrent', 'budgetTokens'].every(numberOrNull) &&
    (limits.budgetPeriod === null ||
      limits.budgetPeriod === 'day' ||
      limits.budgetPeriod === 'month')
  );
}

export function isAdmitMessage(value: unknown): value is AdmitMessage {
  const message = value as Partial<AdmitMessage> | null;
  return (
    !!message &&
    isLimits(message.limits) &&
    typeof message.reservedTokens === 'number' &&
    typeof message.leaseTtlMs === 'number' &&
    message.leaseTtlMs > 0
  );
}

export function isReserveMessage(value: unknown): value is ReserveMessage {
  const message = value as Partial<ReserveMessage> | null;
  return (
    !!message &&
    isLimits(message.limits) &&
    typeof message.leaseId === 'string' &&
    typeof message.reservedTokens === 'number'
  );
}

export function isKeyMessage(value: unknown): value is KeyMessage {
  const message = value as Partial<KeyMessage> | null;
  return !!message && typeof message.tenantId === 'string' && typeof message.keyHash === 'string';
}

export function isKeyedAdmitMessage(value: unknown): value is KeyedAdmitMessage {
  const message = value as Partial<KeyedAdmitMessage> | null;
  return (
    isKeyMessage(value) &&
    typeof message!.tenantSeen === 'string' &&
    typeof message!.reservedTokens === 'number' &&
    typeof message!.leaseTtlMs === 'number' &&
    message!.leaseTtlMs > 0
  );
}

export function isReleaseMessage(value: unknown): value is ReleaseMessage {
  const message = value as Partial<ReleaseMessage> | null;
  return (
    !!message &&
    isLimits(message.limits) &&
    typeof message.leaseId === 'string' &&
    typeof message.usedTokens === 'number'
  );
}
