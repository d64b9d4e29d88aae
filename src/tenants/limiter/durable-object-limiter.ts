/**
 * The Limiter the Worker uses: one TenantLimiter Durable Object per tenant (idFromName(tenant.id)), called over
 * JS RPC (its methods: TenantLimiterRpc) — no Request, URL or JSON per call. Besides admit/reserve/release it
 * makes the object's gate calls: a key checked and admitted in one call, usage recorded with the release, and
 * the flush/invalidate calls the tenant store makes.
 */
import type { DurableObjectNamespace } from '@cloudflare/workers-types';
import type {
  Admission,
  DeferredAuth,
  KeyedAdmission,
  KeyScreen,
  Limiter,
  Reservation,
  Tenant,
  UsageRecord,
} from '../../api/tenancy.ts';
import { DEFAULT_LEASE_TTL_MS, limitsOf } from './buckets.ts';
import type { KeyCheck } from './key-directory.ts';
import type {
  KeyedAdmitMessage,
  KeyMessage,
  ReleaseMessage,
  TenantLimiterRpc,
} from './limiter-messages.ts';
import { hashApiKey, tenantOfApiKey } from '../keys.ts';

export interface DurableObjectLimiterOptions {
  /** The binding of the TenantLimiter class (e.g. `env.TENANT_LIMITER`). */
  namespace: DurableObjectNamespace;
  /** How long an unreleased lease holds its concurrency slot. Default 10 minutes. */
  leaseTtlMs?: number;
  /** Called with every tenant record the objects answer with (the tenant store's per-isolate copies). */
  onTenant?: (tenant: Tenant) => void;
}

/** Thrown when the Durable Object call fails (the API maps it to a 5xx, never to a refusal). */
export class LimiterUnavailableError extends Error {
  override name = 'LimiterUnavailableError';
}

/** The limiter plus the calls the Worker's tenant store makes to the same objects. */
export interface DurableObjectLimiter extends Limiter {
  readonly recordsUsage: true;
  readonly releaseAfterResponse: true;
  admitWithKey(auth: DeferredAuth, reservedTokens: number): Promise<KeyedAdmission>;
  screenKey(auth: DeferredAuth): Promise<KeyScreen>;
  /** Checks a key that names its tenant in that tenant's object; null when the key names none. */
  authenticateKey(apiKey: string): Promise<KeyCheck | null>;
  /** Writes the tenant's pending usage to D1 (before a usage query). */
  flushUsage(tenantId: string): Promise<void>;
  /** Makes the tenant's object re-read its tenant and keys from D1 (after any admin write). */
  invalidate(tenantId: string): Promise<void>;
}

/**
 * Creates the Durable Object-backed limiter. Cheap: build it per request or once per isolate.
 * @example
 * const limiter = createDurableObjectLimiter({ namespace: env.TENANT_LIMITER });
 */
export function createDurableObjectLimiter(
  options: DurableObjectLimiterOptions,
): DurableObjectLimiter {
  const { namespace, leaseTtlMs = DEFAULT_LEASE_TTL_MS, onTenant } = options;
  if (!(leaseTtlMs > 0)) throw new RangeError(`leaseTtlMs must be positive, got ${leaseTtlMs}`);
  /** Calls `method` on the tenant's object; a failed call (the object threw, or was unreachable) is unavailable. */
  const call = async <M extends keyof TenantLimiterRpc>(
    tenantId: string,
    method: M,
    ...args: Parameters<TenantLimiterRpc[M]>
  ): Promise<Awaited<ReturnType<TenantLimiterRpc[M]>>> => {
    // Over RPC every method of the object answers asynchronously, whatever it returns in the object.
    const stub = namespace.get(namespace.idFromName(tenantId)) as unknown as Record<
      M,
      (...a: typeof args) => Promise<Awaited<ReturnType<TenantLimiterRpc[M]>>>
    >;
    try {
      return await stub[method](...args);
    } catch (e: unknown) {
      const reason = `tenant limiter failed on ${method}: ${(e as Error).name}`;
      throw new LimiterUnavailableError(reason, { cause: e });
    }
  };
  return {
    recordsUsage: true,
    releaseAfterResponse: true,
    admit(tenant: Tenant, reservedTokens: number): Promise<Admission> {
      return call(tenant.id, 'admit', {
        limits: limitsOf(tenant),
        reservedTokens,
        leaseTtlMs,
      });
    },
    async admitWithKey(auth: DeferredAuth, reservedTokens: number): Promise<KeyedAdmission> {
      const answer = await call(auth.tenant.id, 'admitKey', {
        tenantId: auth.tenant.id,
        keyHash: await hashApiKey(auth.apiKey),
        tenantSeen: JSON.stringify(auth.tenant),
        reservedTokens,
        leaseTtlMs,
      } satisfies KeyedAdmitMessage);
      if (!answer.ok && 'staleTenant' in answer) onTenant?.(answer.staleTenant);
      return answer;
    },
    async screenKey(auth: DeferredAuth): Promise<KeyScreen> {
      return call(auth.tenant.id, 'screenKey', {
        tenantId: auth.tenant.id,
        keyHash: await hashApiKey(auth.apiKey),
      } satisfies KeyMessage);
    },
    async authenticateKey(apiKey: string): Promise<KeyCheck | null> {
      const tenantId = tenantOfApiKey(apiKey);
      if (!tenantId) return null;
      const check = await call(tenantId, 'authenticate', {
        tenantId,
        keyHash: await hashApiKey(apiKey),
      } satisfies KeyMessage);
      if (check.ok) onTenant?.(check.tenant);
      return check;
    },
    reserve(tenant: Tenant, leaseId: string, reservedTokens: number): Promise<Reservation> {
      return call(tenant.id, 'reserve', {
        limits: limitsOf(tenant),
        leaseId,
        reservedTokens,
      });
    },
    async release(
      tenant: Tenant,
      leaseId: string,
      usedTokens: number,
      usage?: UsageRecord,
    ): Promise<void> {
      await call(tenant.id, 'release', {
        limits: limitsOf(tenant),
        leaseId,
        usedTokens,
        ...(usage ? { usage } : {}),
      } satisfies ReleaseMessage);
    },
    async flushUsage(tenantId: string): Promise<void> {
      await call(tenantId, 'flushUsage');
    },
    async invalidate(tenantId: string): Promise<void> {
      await call(tenantId, 'invalidate');
    },
  };
}
