/**
 * TenantLimiter: the Durable Object holding one tenant's exact limits (named by tenant id), and the gate of its
 * requests: it authenticates the tenant's keys (KeyDirectory, read from D1 and invalidated by the admin API) and
 * admits in the same call, and it writes usage to D1 in batches after the response (UsageQueue). Single-threaded,
 * so admissions are serialised; the limiter state and the unwritten usage are written to DO storage on every
 * change and survive eviction. Spoken to over fetch (see durable-object-limiter.ts), so it needs no
 * `cloudflare:workers` import.
 */
import type { D1Database, DurableObjectState } from '@cloudflare/workers-types';
import type { Admission, KeyedAdmission, Reservation, UsageRecord } from '../../api/tenancy.ts';
import { readTenantDirectory } from '../d1/directory.ts';
import { usageInsert } from '../d1/usage.ts';
import { KeyDirectory, type KeyCheck } from './key-directory.ts';
import { UsageQueue } from './usage-queue.ts';
import {
  admit,
  limitsOf,
  emptyLimiterState,
  release,
  reserve,
  type LimiterLimits,
  type LimiterState,
} from './buckets.ts';

const STATE_KEY = 'limiter-state';
const USAGE_KEY = 'pending-usage';
/** How long after a failed D1 write the object tries again (its alarm). */
const USAGE_RETRY_MS = 5_000;

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

export class TenantLimiter {
  private state: LimiterState = emptyLimiterState();
  private readonly keys: KeyDirectory;
  private usage!: UsageQueue;

  constructor(
    private readonly ctx: DurableObjectState,
    env: { DB?: D1Database },
  ) {
    const db = env.DB;
    this.keys = new KeyDirectory(async (tenantId) => {
      if (!db) throw new Error('TenantLimiter: no DB binding');
      return readTenantDirectory(db, tenantId);
    });
    void ctx.blockConcurrencyWhile(async () => {
      this.state = (await ctx.storage.get<LimiterState>(STATE_KEY)) ?? emptyLimiterState();
      const pending = (await ctx.storage.get<UsageRecord[]>(USAGE_KEY)) ?? [];
      this.usage = new UsageQueue(
        pending,
        async (records) => {
          if (!db) throw new Error('TenantLimiter: no DB binding');
          await db.batch(records.map((r) => usageInsert(db, r)));
        },
        () => this.save(),
      );
      // Records left by an earlier life of the object: write them soon.
      if (pending.length > 0) await ctx.storage.setAlarm(Date.now());
    });
  }

  /** Retries usage writes that failed (or were left by an evicted object). */
  async alarm(): Promise<void> {
    await this.flushOrRetry();
  }

  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (request.method !== 'POST') return new Response('method not allowed', { status: 405 });
    const body: unknown = await request.json().catch(() => null);
    if (path === LIMITER_PATHS.admit && isAdmitMessage(body))
      return Response.json(await this.admit(body));
    if (path === LIMITER_PATHS.reserve && isReserveMessage(body))
      return Response.json(await this.reserve(body));
    if (path === LIMITER_PATHS.release && isReleaseMessage(body))
      return Response.json(await this.release(body));
    if (path === LIMITER_PATHS.admitKey && isKeyedAdmitMessage(body))
      return Response.json(await this.admitKey(body));
    if (path === LIMITER_PATHS.authenticate && isKeyMessage(body))
      return Response.json(await this.authenticate(body));
    if (path === LIMITER_PATHS.flush) {
      await this.usage.flush();
      return Response.json({ pending: this.usage.size });
    }
    if (path === LIMITER_PATHS.invalidate) {
      this.keys.invalidate();
      return Response.json({ invalidated: true });
    }
    return new Response('bad limiter request', { status: 400 });
  }

  private authenticate(message: KeyMessage): Promise<KeyCheck> {
    return this.keys.check(message.tenantId, message.keyHash, Date.now());
  }

  private async admitKey(message: KeyedAdmitMessage): Promise<KeyedAdmission> {
    const auth = await this.authenticate(message);
    if (!auth.ok) return { ok: false, auth: auth.reason };
    // The Worker ran its checks (model access, max_tokens cap) against its copy: it must be the current one.
    if (JSON.stringify(auth.tenant) !== message.tenantSeen)
      return { ok: false, staleTenant: auth.tenant };
    const admission = await this.admit({
      limits: limitsOf(auth.tenant),
      reservedTokens: message.reservedTokens,
      leaseTtlMs: message.leaseTtlMs,
    });
    return admission.ok ? { ...admission, keyId: auth.keyId } : admission;
  }

  private async admit(message: AdmitMessage): Promise<Admission> {
    const admission = admit(this.state, {
      ...message,
      now: Date.now(),
      leaseId: crypto.randomUUID(),
    });
    if (admission.ok) await this.save();
    return admission;
  }

  private async reserve(message: ReserveMessage): Promise<Reservation> {
    const reservation = reserve(this.state, { ...message, now: Date.now() });
    if (reservation.ok) await this.save();
    return reservation;
  }

  private async release(message: ReleaseMessage): Promise<ReleaseReply> {
    const released = release(this.state, { ...message, now: Date.now() });
    if (message.usage) this.usage.push(message.usage);
    await this.save();
    // After the answer: the D1 write never delays the caller, and concurrent releases share a batch.
    if (message.usage) void this.flushOrRetry();
    return { released };
  }

  private async flushOrRetry(): Promise<void> {
    try {
      await this.usage.flush();
    } catch (e: unknown) {
      console.log(`tenant usage write failed, retrying: ${(e as Error).name}`);
      await this.ctx.storage.setAlarm(Date.now() + USAGE_RETRY_MS);
    }
  }

  private save(): Promise<void> {
    return this.ctx.storage.put({ [STATE_KEY]: this.state, [USAGE_KEY]: this.usage.pending });
  }
}

function isLimits(value: unknown): value is LimiterLimits {
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

function isAdmitMessage(value: unknown): value is AdmitMessage {
  const message = value as Partial<AdmitMessage> | null;
  return (
    !!message &&
    isLimits(message.limits) &&
    typeof message.reservedTokens === 'number' &&
    typeof message.leaseTtlMs === 'number' &&
    message.leaseTtlMs > 0
  );
}

function isReserveMessage(value: unknown): value is ReserveMessage {
  const message = value as Partial<ReserveMessage> | null;
  return (
    !!message &&
    isLimits(message.limits) &&
    typeof message.leaseId === 'string' &&
    typeof message.reservedTokens === 'number'
  );
}

function isKeyMessage(value: unknown): value is KeyMessage {
  const message = value as Partial<KeyMessage> | null;
  return !!message && typeof message.tenantId === 'string' && typeof message.keyHash === 'string';
}

function isKeyedAdmitMessage(value: unknown): value is KeyedAdmitMessage {
  const message = value as Partial<KeyedAdmitMessage> | null;
  return (
    isKeyMessage(value) &&
    typeof message!.tenantSeen === 'string' &&
    typeof message!.reservedTokens === 'number' &&
    typeof message!.leaseTtlMs === 'number' &&
    message!.leaseTtlMs > 0
  );
}

function isReleaseMessage(value: unknown): value is ReleaseMessage {
  const message = value as Partial<ReleaseMessage> | null;
  return (
    !!message &&
    isLimits(message.limits) &&
    typeof message.leaseId === 'string' &&
    typeof message.usedTokens === 'number'
  );
}
