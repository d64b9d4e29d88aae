/** The Limiter the Worker uses: one TenantLimiter Durable Object per tenant (idFromName(tenant.id)), over fetch. */
import type { DurableObjectNamespace } from '@cloudflare/workers-types';
import type { Admission, Limiter, Reservation, Tenant } from '../../api/tenancy.ts';
import { DEFAULT_LEASE_TTL_MS, limitsOf } from './buckets.ts';
import {
  LIMITER_PATHS,
  type AdmitMessage,
  type ReleaseMessage,
  type ReserveMessage,
} from './tenant-limiter-object.ts';

export interface DurableObjectLimiterOptions {
  /** The binding of the TenantLimiter class (e.g. `env.TENANT_LIMITER`). */
  namespace: DurableObjectNamespace;
  /** How long an unreleased lease holds its concurrency slot. Default 10 minutes. */
  leaseTtlMs?: number;
}

/** Thrown when the Durable Object answers with an error (the API maps it to a 5xx, never to a refusal). */
export class LimiterUnavailableError extends Error {
  override name = 'LimiterUnavailableError';
}

/**
 * Creates the Durable Object-backed limiter. Cheap: build it per request or once per isolate.
 * @example
 * const limiter = createDurableObjectLimiter({ namespace: env.TENANT_LIMITER });
 */
export function createDurableObjectLimiter(options: DurableObjectLimiterOptions): Limiter {
  const { namespace, leaseTtlMs = DEFAULT_LEASE_TTL_MS } = options;
  if (!(leaseTtlMs > 0)) throw new RangeError(`leaseTtlMs must be positive, got ${leaseTtlMs}`);
  const call = async <T>(
    tenant: Tenant,
    path: string,
    message: AdmitMessage | ReserveMessage | ReleaseMessage,
  ): Promise<T> => {
    const stub = namespace.get(namespace.idFromName(tenant.id));
    const response = await stub.fetch(`https://tenant-limiter${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
    });
    if (!response.ok)
      throw new LimiterUnavailableError(`tenant limiter answered ${response.status} on ${path}`);
    return (await response.json()) as T;
  };
  return {
    admit(tenant: Tenant, reservedTokens: number): Promise<Admission> {
      return call<Admission>(tenant, LIMITER_PATHS.admit, {
        limits: limitsOf(tenant),
        reservedTokens,
        leaseTtlMs,
      });
    },
    reserve(tenant: Tenant, leaseId: string, reservedTokens: number): Promise<Reservation> {
      return call<Reservation>(tenant, LIMITER_PATHS.reserve, {
        limits: limitsOf(tenant),
        leaseId,
        reservedTokens,
      });
    },
    async release(tenant: Tenant, leaseId: string, usedTokens: number): Promise<void> {
      await call(tenant, LIMITER_PATHS.release, { limits: limitsOf(tenant), leaseId, usedTokens });
    },
  };
}
