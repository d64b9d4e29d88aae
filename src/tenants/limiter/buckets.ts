/**
 * The exact limiter algorithm, shared by the Durable Object and the in-memory limiter: continuous-refill
 * token buckets for requests/min and tokens/min, concurrency leases that expire, and a token budget per
 * UTC day or month. Pure: callers pass the clock and the lease id, and persist the (mutated) state.
 */
import type { Admission, Refusal, Tenant } from '../../api/tenancy.ts';
import { periodWindow, type BudgetPeriod } from '../periods.ts';
import { rateHeaders, type BucketView } from './rate-headers.ts';

const MINUTE_MS = 60_000;
/** How long an unreleased lease holds its concurrency slot unless a limiter is told otherwise. */
export const DEFAULT_LEASE_TTL_MS = 10 * 60_000;
/** Hint for a refusal on concurrency: leases end when requests do, which no bucket can predict. */
const CONCURRENCY_RETRY_MS = 1000;

export interface LimiterLimits {
  rpm: number | null;
  tpm: number | null;
  maxConcurrent: number | null;
  budgetTokens: number | null;
  budgetPeriod: BudgetPeriod | null;
}

export interface BucketState {
  level: number;
  updatedAt: number;
}

export interface LeaseState {
  reserved: number;
  expiresAt: number;
  /** Whether the reservation was taken from the tokens/min bucket (refunded on release). */
  chargedTokens: boolean;
  /** Budget period the reservation was charged to; reconciled only within the same period. */
  budgetPeriodStart: number | null;
}

export interface LimiterState {
  requests: BucketState | null;
  tokens: BucketState | null;
  leases: Record<string, LeaseState>;
  budget: { periodStart: number; used: number } | null;
}

export interface AdmitInput {
  limits: LimiterLimits;
  reservedTokens: number;
  now: number;
  leaseId: string;
  leaseTtlMs: number;
}

export interface ReleaseInput {
  limits: LimiterLimits;
  leaseId: string;
  usedTokens: number;
  now: number;
}

export function limitsOf(tenant: Tenant): LimiterLimits {
  const { rpm, tpm, maxConcurrent, budgetTokens, budgetPeriod } = tenant;
  return {
    rpm,
    tpm,
    maxConcurrent,
    budgetTokens,
    budgetPeriod: budgetTokens === null ? null : (budgetPeriod ?? 'month'),
  };
}

export function emptyLimiterState(): LimiterState {
  return { requests: null, tokens: null, leases: {}, budget: null };
}

/**
 * Admits a request or refuses it, mutating `state` only on admission (a refusal consumes nothing).
 * A reservation larger than the whole tokens/min bucket is admitted only when the bucket is full, leaving it
 * in debt, so a big `max_tokens` is slowed rather than refused forever; the budget never goes over.
 */
export function admit(state: LimiterState, input: AdmitInput): Admission {
  const { limits, now } = input;
  const reserved = Math.max(0, Math.ceil(input.reservedTokens));
  syncState(state, limits, now);
  const refusal =
    checkBudget(state, limits, reserved, now) ??
    checkConcurrency(state, limits) ??
    checkBucket(state.requests, limits.rpm, 1, 'requests') ??
    checkBucket(state.tokens, limits.tpm, reserved, 'tokens');
  if (refusal) return { ok: false, refusal, headers: headersOf(state, limits) };
  if (state.requests) state.requests.level -= 1;
  if (state.tokens) state.tokens.level -= reserved;
  if (state.budget) state.budget.used += reserved;
  state.leases[input.leaseId] = {
    reserved,
    expiresAt: now + input.leaseTtlMs,
    chargedTokens: state.tokens !== null,
    budgetPeriodStart: state.budget?.periodStart ?? null,
  };
  return { ok: true, leaseId: input.leaseId, headers: headersOf(state, limits) };
}

/**
 * Ends a lease and replaces its reservation with the tokens really used (refunding or charging the
 * difference). Returns false for an unknown or already expired lease: its reservation then stands as the charge.
 */
export function release(state: LimiterState, input: ReleaseInput): boolean {
  const { limits, now } = input;
  syncState(state, limits, now);
  const lease = state.leases[input.leaseId];
  if (!lease) return false;
  delete state.leases[input.leaseId];
  const used = Math.max(0, Math.ceil(input.usedTokens));
  const delta = lease.reserved - used;
  if (state.tokens && lease.chargedTokens && limits.tpm !== null) {
    state.tokens.level = Math.min(limits.tpm, state.tokens.level + delta);
  }
  if (state.budget && lease.budgetPeriodStart === state.budget.periodStart) {
    state.budget.used = Math.max(0, state.budget.used - delta);
  }
  return true;
}

/** Refills buckets to `now`, follows limit changes, rolls the budget period and drops expired leases. */
function syncState(state: LimiterState, limits: LimiterLimits, now: number): void {
  state.requests = refill(state.requests, limits.rpm, now);
  state.tokens = refill(state.tokens, limits.tpm, now);
  if (limits.budgetTokens === null || limits.budgetPeriod === null) state.budget = null;
  else {
    const { start } = periodWindow(limits.budgetPeriod, now);
    if (!state.budget || state.budget.periodStart !== start)
      state.budget = { periodStart: start, used: 0 };
  }
  for (const [id, lease] of Object.entries(state.leases))
    if (lease.expiresAt <= now) delete state.leases[id];
}

function refill(
  bucket: BucketState | null,
  capacity: number | null,
  now: number,
): BucketState | null {
  if (capacity === null) return null;
  if (!bucket) return { level: capacity, updatedAt: now };
  const elapsed = Math.max(0, now - bucket.updatedAt);
  return {
    level: Math.min(capacity, bucket.level + (elapsed * capacity) / MINUTE_MS),
    updatedAt: Math.max(now, bucket.updatedAt),
  };
}

function checkBudget(
  state: LimiterState,
  limits: LimiterLimits,
  reserved: number,
  now: number,
): Refusal | null {
  if (!state.budget || limits.budgetTokens === null || limits.budgetPeriod === null) return null;
  const left = Math.max(0, limits.budgetTokens - state.budget.used);
  if (left > 0 && reserved <= left) return null;
  const { end } = periodWindow(limits.budgetPeriod, now);
  return refuse(
    'insufficient_quota',
    end - now,
    `Token budget exceeded: ${left} of ${limits.budgetTokens} tokens left this ${limits.budgetPeriod}, and this ` +
      `request reserves ${reserved} (prompt + max_tokens). Lower max_tokens or wait until ${new Date(end).toISOString()}.`,
  );
}

function checkConcurrency(state: LimiterState, limits: LimiterLimits): Refusal | null {
  if (limits.maxConcurrent === null) return null;
  const active = Object.keys(state.leases).length;
  if (active < limits.maxConcurrent) return null;
  return refuse(
    'rate_limit_exceeded',
    CONCURRENCY_RETRY_MS,
    `Rate limit reached for concurrent requests: limit ${limits.maxConcurrent}, in flight ${active}.`,
  );
}

function checkBucket(
  bucket: BucketState | null,
  capacity: number | null,
  need: number,
  what: string,
): Refusal | null {
  if (!bucket || capacity === null) return null;
  const required = Math.min(need, capacity);
  if (bucket.level >= required) return null;
  const waitMs = ((required - bucket.level) * MINUTE_MS) / capacity;
  const unit = what === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
  return refuse(
    'rate_limit_exceeded',
    waitMs,
    `Rate limit reached for ${unit}: limit ${capacity}, remaining ${Math.max(0, Math.floor(bucket.level))}, ` +
      `requested ${need}. Please try again in ${(waitMs / 1000).toFixed(3)}s.`,
  );
}

function refuse(code: Refusal['code'], waitMs: number, message: string): Refusal {
  const retryAfterMs = Math.max(1, Math.ceil(waitMs));
  return {
    code,
    message,
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
    retryAfterMs,
  };
}

function headersOf(state: LimiterState, limits: LimiterLimits) {
  return rateHeaders(view(state.requests, limits.rpm), view(state.tokens, limits.tpm));
}

function view(bucket: BucketState | null, capacity: number | null): BucketView | null {
  if (!bucket || capacity === null) return null;
  return {
    limit: capacity,
    level: bucket.level,
    resetMs: ((capacity - bucket.level) * MINUTE_MS) / capacity,
  };
}
