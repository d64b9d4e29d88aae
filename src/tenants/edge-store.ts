/**
 * The Worker's tenant store and limiter, built together: D1 stays the store of record (admin API, usage queries,
 * legacy keys), while keys that name their tenant are checked by the tenant's Durable Object, in the same call
 * that admits the request. Every admin write that can change a key's or a tenant's standing tells the object
 * before it answers, so a revocation is effective on the next request; usage is written by the object after the
 * response and flushed before a usage query reads D1.
 */
import type { D1Database, DurableObjectNamespace } from '@cloudflare/workers-types';
import type { AuthOutcome, DeferredAuth, Tenant, UsageSummary } from '../api/tenancy.ts';
import { createD1TenantStore } from './d1/store.ts';
import { tenantOfApiKey } from './keys.ts';
import {
  createDurableObjectLimiter,
  type DurableObjectLimiter,
} from './limiter/durable-object-limiter.ts';
import type { TenantAdminStore, TenantPatch } from './types.ts';

export interface EdgeTenancyOptions {
  db: D1Database;
  /** The TenantLimiter binding (e.g. `env.TENANT_LIMITER`). */
  namespace: DurableObjectNamespace;
  leaseTtlMs?: number;
  /** Tenant records kept per isolate (copies the objects confirm on every admission). Default 10 000. */
  maxTenantCopies?: number;
}

export interface EdgeTenancy {
  store: TenantAdminStore & { deferAuthentication(apiKey: string): DeferredAuth | null };
  limiter: DurableObjectLimiter;
}

/**
 * Build once per isolate (the tenant copies live as long as it does).
 * @example
 * const { store, limiter } = createEdgeTenancy({ db: env.DB, namespace: env.TENANT_LIMITER });
 */
export function createEdgeTenancy(options: EdgeTenancyOptions): EdgeTenancy {
  const { maxTenantCopies = 10_000 } = options;
  const copies = new Map<string, Tenant>();
  const remember = (tenant: Tenant) => {
    copies.delete(tenant.id);
    if (copies.size >= maxTenantCopies) copies.delete(copies.keys().next().value!);
    copies.set(tenant.id, tenant);
  };
  const limiter = createDurableObjectLimiter({
    namespace: options.namespace,
    leaseTtlMs: options.leaseTtlMs,
    onTenant: remember,
  });
  const d1 = createD1TenantStore({ db: options.db });
  const changed = async <T>(tenantId: string, result: T): Promise<T> => {
    await limiter.invalidate(tenantId);
    return result;
  };
  const store: EdgeTenancy['store'] = {
    ...d1,
    async authenticate(apiKey: string | null): Promise<AuthOutcome> {
      if (!apiKey) return { ok: false, reason: 'missing' };
      return (await limiter.authenticateKey(apiKey)) ?? d1.authenticate(apiKey);
    },
    deferAuthentication(apiKey: string): DeferredAuth | null {
      const tenantId = tenantOfApiKey(apiKey);
      const tenant = tenantId === null ? undefined : copies.get(tenantId);
      return tenant ? { apiKey, tenant } : null;
    },
    async usage(tenantId: string, since?: number): Promise<UsageSummary> {
      await limiter.flushUsage(tenantId);
      return d1.usage(tenantId, since);
    },
    // D1 first (the record), then the object, before answering: the next request sees the change.
    updateTenant: async (id: string, patch: TenantPatch) =>
      changed(id, await d1.updateTenant(id, patch)),
    createKey: async (o) => changed(o.tenantId, await d1.createKey(o)),
    revokeKey: async (keyId, at) => {
      const info = await d1.revokeKey(keyId, at);
      return changed(info.tenantId, info);
    },
    rotateKey: async (oldKeyId, o) => {
      const rotated = await d1.rotateKey(oldKeyId, o);
      return changed(rotated.tenantId, rotated);
    },
  };
  return { store, limiter };
}
