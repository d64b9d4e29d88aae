/** An in-process Limiter (Node server, tests): the buckets.ts algorithm over a Map, exact within one process. */
import type { Admission, Limiter, Tenant } from '../api/tenancy.ts';
import { admit, DEFAULT_LEASE_TTL_MS, emptyLimiterState, limitsOf, release, type LimiterState } from './buckets.ts';

export interface MemoryLimiterOptions {
  /** Clock in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  /** How long an unreleased lease holds its concurrency slot. Default 10 minutes. */
  leaseTtlMs?: number;
  /** Lease id factory. Default `crypto.randomUUID`. */
  newLeaseId?: () => string;
}

/**
 * Creates a limiter whose state lives in this process only (one instance per process, not per request).
 * @example
 * const limiter = createMemoryLimiter({ now: () => fakeNow });
 * const admission = await limiter.admit(tenant, promptTokens + maxTokens);
 */
export function createMemoryLimiter(options: MemoryLimiterOptions = {}): Limiter {
  const { now = Date.now, leaseTtlMs = DEFAULT_LEASE_TTL_MS, newLeaseId = () => crypto.randomUUID() } = options;
  if (!(leaseTtlMs > 0)) throw new RangeError(`leaseTtlMs must be positive, got ${leaseTtlMs}`);
  const states = new Map<string, LimiterState>();
  const stateOf = (tenantId: string): LimiterState => {
    let state = states.get(tenantId);
    if (!state) states.set(tenantId, (state = emptyLimiterState()));
    return state;
  };
  return {
    async admit(tenant: Tenant, reservedTokens: number): Promise<Admission> {
      return admit(stateOf(tenant.id), { limits: limitsOf(tenant), reservedTokens, now: now(), leaseId: newLeaseId(), leaseTtlMs });
    },
    async release(tenant: Tenant, leaseId: string, usedTokens: number): Promise<void> {
      release(stateOf(tenant.id), { limits: limitsOf(tenant), leaseId, usedTokens, now: now() });
    },
  };
}
