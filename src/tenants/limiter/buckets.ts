/**
 * The exact limiter algorithm, shared by the Durable Object and the in-memory limiter: continuous-refill
 * token buckets for requests/min and tokens/min, concurrency leases that expire, and a token budget per
 * UTC day or month. Pure: callers pass the clock and the lease id, and persist the (mutated) state.
 */
import type { Admission, Refusal, Reservation, Tenant } from '../../api/tenancy.ts';
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

export interface ReserveInput {
  limits: LimiterLimits;
  leaseId: string;
  reservedTokens: number;
  now: number;
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
 * Admits a request or refuses it, mutating `state` only on admission (a refusal consumes nothing). The admission
 * takes one request, a concurrency lease and a first reservation (what is known before the prompt is counted);
 * `reserve` raises it once the prompt is tokenized. A reservation that can never fit the tenant's limits (more
 * than the whole tokens/min bucket or the whole budget) is refused for good, never admitted into debt.
 */
export function admit(state: LimiterState, input: AdmitInput): Admission {
  const { limits, now } = input;
  const reserved = Math.max(0, Math.ceil(input.reservedTokens));
  syncState(state, limits, now);
  const refusal =
    checkNeverFits(limits, reserved) ??
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
 * What `admit` would answer a request of any size right now, when that is a refusal (its budget spent, its
 * concurrency full, no request left this minute): such a request can be answered before its body is read. Only
 * the clock moves `state` (buckets refilled, expired leases dropped); null when a request could be admitted.
 */
export function refuseAny(
  state: LimiterState,
  limits: LimiterLimits,
  now: number,
): { refusal: Refusal; headers: ReturnType<typeof headersOf> } | null {
  syncState(state, limits, now);
  // admit() with the smallest reservation: every check it makes is monotone in the reservation.
  const refusal =
    checkBudget(state, limits, 0, now) ??
    checkConcurrency(state, limits) ??
    checkBucket(state.requests, limits.rpm, 1, 'requests');
  return refusal ? { refusal, headers: headersOf(state, limits) } : null;
}

/**
 * Raises an open lease's reservation to `reservedTokens` (the prompt now counted, plus every choice's
 * max_tokens), taking the difference from the tokens/min bucket and the budget; a refusal changes nothing (the
 * caller releases the lease). A lease that is unknown or expired is refused.
 */
export function reserve(state: LimiterState, input: ReserveInput): Reservation {
  const { limits, now } = input;
  syncState(state, limits, now);
  const lease = state.leases[input.leaseId];
  const reserved = Math.max(0, Math.ceil(input.reservedTokens));
  if (!lease)
    return {
      ok: false,
      refusal: refuse('rate_limit_exceeded', CONCURRENCY_RETRY_MS, 'The request lease expired.'),
      headers: headersOf(state, limits),
    };
  const extra = Math.max(0, reserved - lease.reserved);
  const refusal =
    checkNeverFits(limits, reserved) ??
    (extra > 0 ? checkBudget(state, limits, extra, now, reserved) : null) ??
    (lease.chargedTokens ? checkBucket(state.tokens, limits.tpm, extra, 'tokens') : null);
  if (refusal) return { ok: false, refusal, headers: headersOf(state, limits) };
  if (state.tokens && lease.chargedTokens) state.tokens.level -= extra;
  if (state.budget && lease.budgetPeriodStart === state.budget.periodStart)
    state.budget.used += extra;
  lease.reserved += extra;
  return { ok: true, headers: headersOf(state, limits) };
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
  total = reserved,
): Refusal | null {
  if (!state.budget || limits.budgetTokens === null || limits.budgetPeriod === null) return null;
  const left = Math.max(0, limits.budgetTokens - state.budget.used);
  if (left > 0 && reserved <= left) return null;
  const { end } = periodWindow(limits.budgetPeriod, now);
  return refuse(
    'insufficient_quota',
    end - now,
    total > 0
      ? `Token budget exceeded: ${left} of ${limits.budgetTokens} tokens left this ${limits.budgetPeriod}, and this ` +
          `request reserves ${total} (prompts + max_tokens × choices). Lower max_tokens or wait until ${new Date(end).toISOString()}.`
      : `Token budget exceeded: 0 of ${limits.budgetTokens} tokens left this ${limits.budgetPeriod}. Wait until ${new Date(end).toISOString()}.`,
  );
}

/** A reservation larger than the whole tokens/min bucket or the whole budget: no wait makes it fit. */
function checkNeverFits(limits: LimiterLimits, reserved: number): Refusal | null {
  if (limits.tpm !== null && reserved > limits.tpm)
    return neverFits(
      'rate_limit_exceeded',
      `Request too large for tokens per min (TPM): limit ${limits.tpm}, requested ${reserved} (prompts + ` +
        'max_tokens × choices). Lower max_tokens, n or the prompt.',
    );
  if (limits.budgetTokens !== null && reserved > limits.budgetTokens)
    return neverFits(
      'insufficient_quota',
      `Request too large for the token budget: ${limits.budgetTokens} tokens per ${limits.budgetPeriod ?? 'month'}, ` +
        `requested ${reserved} (prompts + max_tokens × choices). Lower max_tokens, n or the prompt.`,
    );
  return null;
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
  if (bucket.level >= need) return null;
  const waitMs = ((need - bucket.level) * MINUTE_MS) / capacity;
  const unit = what === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
  return refuse(
    'rate_limit_exceeded',
    waitMs,
    `Rate limit reached for ${unit}: limit ${capacity}, remaining ${Math.max(0, Math.floor(bucket.level))}, ` +
      `requested ${need}. Please try again in ${(waitMs / 1000).toFixed(3)}s.`,
  );
}

function neverFits(code: Refusal['code'], message: string): Refusal {
  return { code, message, retryAfterSeconds: 0, permanent: true };
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
