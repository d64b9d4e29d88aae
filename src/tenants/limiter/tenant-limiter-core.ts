/**
 * TenantLimiterCore: what the TenantLimiter Durable Object (src/worker/tenant-limiter.ts) does. It holds one
 * tenant's exact limits (named by tenant id) and is the gate of its requests: it authenticates the tenant's keys
 * (KeyDirectory, read from D1 and invalidated by the admin API) and admits in the same call, and it writes usage
 * to D1 in batches after the response (UsageQueue). Single-threaded, so admissions are serialised against the
 * in-memory state, which is exact. Every change is written to DO storage without holding the object's output gate
 * (`allowUnconfirmed`), and an admission's write is issued ADMISSION_WRITE_DELAY_MS later (one write for the
 * admissions of that time, and none of its own when the request's release comes first, as a short request's does):
 * an admission is answered without waiting for the disk or replicas, and one request's write never delays
 * another's answer. Writes still land in order, so storage always holds a state the object went through; only a
 * crash or a failed storage write (the runtime then restarts the object from what was stored) can forget the
 * admissions of the last ADMISSION_WRITE_DELAY_MS. A release writes at once and answers once its usage record is
 * durable (`sync`). The object's JS RPC methods are these (TenantLimiterRpc, called by durable-object-limiter.ts);
 * this file has no `cloudflare:workers` import, so src/tenants stays runtime-free.
 */
import type { D1Database, DurableObjectState } from '@cloudflare/workers-types';
import type {
  Admission,
  KeyedAdmission,
  KeyScreen,
  Reservation,
  UsageRecord,
} from '../../api/tenancy.ts';
import { readTenantDirectory } from '../d1/directory.ts';
import { usageInsert } from '../d1/usage.ts';
import { KeyDirectory, type KeyCheck } from './key-directory.ts';
import { UsageQueue } from './usage-queue.ts';
import type {
  AdmitMessage,
  KeyedAdmitMessage,
  KeyMessage,
  ReleaseMessage,
  ReleaseReply,
  ReserveMessage,
  TenantLimiterRpc,
} from './limiter-messages.ts';
import {
  admit,
  limitsOf,
  refuseAny,
  emptyLimiterState,
  release,
  reserve,
  type LimiterState,
} from './buckets.ts';

const STATE_KEY = 'limiter-state';
/** One storage key per unwritten usage record (`usage:<request id>`): a release writes one small row. */
const USAGE_PREFIX = 'usage:';
/** Releases within this window share one D1 batch (the object's alarm); a usage query flushes at once. */
const USAGE_FLUSH_MS = 1_000;
/**
 * How long an admission's state write waits: a release within it writes the state for both (one storage write per
 * short request instead of two: Durable Object writes are billed, and each is object time). Also the most a crash
 * can forget of admissions.
 */
export const ADMISSION_WRITE_DELAY_MS = 10;
/** More unwritten records than this are written at once instead of waiting for the alarm. */
const USAGE_BATCH_MAX = 100;
/** Where objects written before per-record keys kept their unwritten usage (one array); read once, then gone. */
const LEGACY_USAGE_KEY = 'pending-usage';
/** How long after a failed D1 write the object tries again (its alarm). */
const USAGE_RETRY_MS = 5_000;
/** Storage writes never hold the output gate (see the header); order and atomicity are kept. */
const UNGATED = { allowUnconfirmed: true } as const;

export class TenantLimiterCore implements TenantLimiterRpc {
  private state: LimiterState = emptyLimiterState();
  private readonly keys: KeyDirectory;
  private usage!: UsageQueue;
  /** Whether the alarm is set (a D1 flush or its retry is due). */
  private alarmSet = false;
  /** Whether an admission's state write is waiting (see saveSoon). */
  private stateWriteDue = false;

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
      const stored = await ctx.storage.list<UsageRecord>({ prefix: USAGE_PREFIX });
      // Objects written before per-record keys kept one array; carry it over to the keyed form.
      const legacy = (await ctx.storage.get<UsageRecord[]>(LEGACY_USAGE_KEY)) ?? [];
      for (const record of legacy) stored.set(usageKey(record), record);
      if (legacy.length > 0) {
        await ctx.storage.put(Object.fromEntries(legacy.map((r) => [usageKey(r), r])));
        await ctx.storage.delete(LEGACY_USAGE_KEY);
      }
      const pending = [...stored.values()].sort((a, b) => a.at - b.at);
      this.usage = new UsageQueue(
        pending,
        async (records) => {
          if (!db) throw new Error('TenantLimiter: no DB binding');
          await db.batch(records.map((r) => usageInsert(db, r)));
        },
        (records) => this.write(ctx.storage.delete(records.map(usageKey), UNGATED)),
      );
      this.alarmSet = (await ctx.storage.getAlarm()) !== null;
      // Records left by an earlier life of the object: write them soon.
      if (pending.length > 0 && !this.alarmSet) this.scheduleAlarm(0);
    });
  }

  /** Retries usage writes that failed (or were left by an evicted object). */
  async alarm(): Promise<void> {
    this.alarmSet = false;
    await this.flushOrRetry();
  }

  /** Writes the pending usage to D1 now (before a usage query); answers how many records are still unwritten. */
  async flushUsage(): Promise<number> {
    await this.usage.flush();
    return this.usage.size;
  }

  /** Forgets the tenant and keys read from D1 (after an admin write): the next request reads them again. */
  invalidate(): void {
    this.keys.invalidate();
  }

  authenticate(message: KeyMessage): Promise<KeyCheck> {
    return this.keys.check(message.tenantId, message.keyHash, Date.now());
  }

  /**
   * The key checked, and the refusal an admission of any size would get now (budget spent, concurrency full, no
   * request left this minute), against the object's own copy of the limits. Reserves nothing and writes nothing:
   * the Worker asks before reading a large body, and the request is still admitted (exactly) after parsing.
   */
  async screenKey(message: KeyMessage): Promise<KeyScreen> {
    const auth = await this.authenticate(message);
    if (!auth.ok) return { ok: false, auth: auth.reason };
    const refused = refuseAny(this.state, limitsOf(auth.tenant), Date.now());
    return refused ? { ok: false, ...refused } : { ok: true };
  }

  async admitKey(message: KeyedAdmitMessage): Promise<KeyedAdmission> {
    const auth = await this.authenticate(message);
    if (!auth.ok) return { ok: false, auth: auth.reason };
    // The Worker ran its checks (model access, max_tokens cap) against its copy: it must be the current one.
    if (JSON.stringify(auth.tenant) !== message.tenantSeen)
      return { ok: false, staleTenant: auth.tenant };
    const admission = this.admit({
      limits: limitsOf(auth.tenant),
      reservedTokens: message.reservedTokens,
      leaseTtlMs: message.leaseTtlMs,
    });
    return admission.ok ? { ...admission, keyId: auth.keyId } : admission;
  }

  admit(message: AdmitMessage): Admission {
    const admission = admit(this.state, {
      ...message,
      now: Date.now(),
      leaseId: crypto.randomUUID(),
    });
    if (admission.ok) this.saveSoon();
    return admission;
  }

  reserve(message: ReserveMessage): Reservation {
    const reservation = reserve(this.state, { ...message, now: Date.now() });
    if (reservation.ok) this.saveSoon();
    return reservation;
  }

  async release(message: ReleaseMessage): Promise<ReleaseReply> {
    const released = release(this.state, { ...message, now: Date.now() });
    const { usage } = message;
    if (usage) {
      this.usage.push(usage);
      this.save({ [usageKey(usage)]: usage });
      // The D1 write is never on a response's path: the releases of the next second share one batch.
      if (this.usage.size >= USAGE_BATCH_MAX) void this.flushOrRetry();
      else if (!this.alarmSet) this.scheduleAlarm(USAGE_FLUSH_MS);
    } else this.save();
    // The caller (a Worker's waitUntil) hears back once the usage record is durable.
    await this.ctx.storage.sync();
    return { released };
  }

  private async flushOrRetry(): Promise<void> {
    try {
      await this.usage.flush();
    } catch (e: unknown) {
      console.log(`tenant usage write failed, retrying: ${(e as Error).name}`);
      this.scheduleAlarm(USAGE_RETRY_MS);
    }
  }

  private scheduleAlarm(inMs: number): void {
    this.alarmSet = true;
    this.write(this.ctx.storage.setAlarm(Date.now() + inMs, UNGATED));
  }

  /**
   * An admission's (or reservation's) state write, ADMISSION_WRITE_DELAY_MS later: the answer goes out first, the
   * admissions of that time share one write, and a release (or any other write) before it carries the change
   * instead. Until then the change lives in memory only, as an unconfirmed write does (see the header): a crash
   * in that time forgets it, and nothing else can.
   */
  private saveSoon(): void {
    if (this.stateWriteDue) return;
    this.stateWriteDue = true;
    setTimeout(() => {
      if (this.stateWriteDue) this.save();
    }, ADMISSION_WRITE_DELAY_MS);
  }

  /** Writes the limiter state (and `extra` keys) in one ungated storage write; a due saveSoon is then done. */
  private save(extra: Record<string, unknown> = {}): void {
    this.stateWriteDue = false;
    this.write(this.ctx.storage.put({ [STATE_KEY]: this.state, ...extra }, UNGATED));
  }

  /** A failed write makes the runtime restart the object from storage; the rejection only needs a log line. */
  private write(done: Promise<unknown>): void {
    done.catch((e: unknown) =>
      console.log(`tenant limiter storage write failed: ${(e as Error).name}`),
    );
  }
}

const usageKey = (record: UsageRecord) => `${USAGE_PREFIX}${record.requestId}`;
