/** An in-process Limiter (Node server, tests): the buckets.ts algorithm over a Map, exact within one process. */
import type { Admission, Limiter, Reservation, Tenant } from '../../api/tenancy.ts';
import {
  admit,
  DEFAULT_LEASE_TTL_MS,
  emptyLimiterState,
  limitsOf,
  refuseAny,
  release,
  reserve,
  type LimiterState,
} from './buckets.ts';
import { periodWindow } from '../periods.ts';

export interface MemoryLimiterOptions {
  /** Clock in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  /** How long an unreleased lease holds its concurrency slot. Default 10 minutes. */
  leaseTtlMs?: number;
  /** Lease id factory. Default `crypto.randomUUID`. */
  newLeaseId?: () => string;
  /**
   * Tokens a tenant already used in a budget period [start, end), read when this process first sees the tenant,
   * so a restart does not reset a budget (the memory tenant store's `usedTokens`). Default: none used.
   */
  budgetUsed?: (tenantId: string, start: number, end: number) => number;
}

/**
 * Creates a limiter whose state lives in this process only (one instance per process, not per request).
 * @example
 * const limiter = createMemoryLimiter({ now: () => fakeNow });
 * const admission = await limiter.admit(tenant, promptTokens + maxTokens);
 */
export function createMemoryLimiter(options: MemoryLimiterOptions = {}): Limiter {
  const {
    now = Date.now,
    leaseTtlMs = DEFAULT_LEASE_TTL_MS,
    newLeaseId = () => crypto.randomUUID(),
    budgetUsed,
  } = options;
  if (!(leaseTtlMs > 0)) throw new RangeError(`leaseTtlMs must be positive, got ${leaseTtlMs}`);
  const states = new Map<string, LimiterState>();
  const stateOf = (tenant: Tenant): LimiterState => {
    let state = states.get(tenant.id);
    if (!state) states.set(tenant.id, (state = emptyLimiterState()));
    // A budget period this process has not counted yet (first sight, a new period, a budget just added or its
    // period changed) starts from what the store says was used in it, not from 0.
    const { budgetTokens, budgetPeriod } = limitsOf(tenant);
    if (budgetUsed && budgetTokens !== null && budgetPeriod !== null) {
      const { start, end } = periodWindow(budgetPeriod, now());
      if (state.budget?.periodStart !== start)
        state.budget = { periodStart: start, used: budgetUsed(tenant.id, start, end) };
    }
    return state;
  };
  return {
    async admit(tenant: Tenant, reservedTokens: number): Promise<Admission> {
      return admit(stateOf(tenant), {
        limits: limitsOf(tenant),
        reservedTokens,
        now: now(),
        leaseId: newLeaseId(),
        leaseTtlMs,
      });
    },
    async reserve(tenant: Tenant, leaseId: string, reservedTokens: number): Promise<Reservation> {
      return reserve(stateOf(tenant), {
        limits: limitsOf(tenant),
        leaseId,
        reservedTokens,
        now: now(),
      });
    },
    async refusesAny(tenant: Tenant) {
      return refuseAny(stateOf(tenant), limitsOf(tenant), now());
    },
    async release(tenant: Tenant, leaseId: string, usedTokens: number): Promise<void> {
      release(stateOf(tenant), { limits: limitsOf(tenant), leaseId, usedTokens, now: now() });
    },
  };
}
