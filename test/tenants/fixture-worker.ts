/**
 * The Worker the workerd tests run: the admin API over D1 plus /test/* routes that call the store and the
 * Durable Object limiter directly (the OpenAI routes live elsewhere). Bundled by harness.ts with esbuild.
 */
import { Hono } from 'hono';
import type { D1Database, DurableObjectNamespace } from '@cloudflare/workers-types';
import type { UsageRecord } from '../../src/api/tenancy.ts';
import { createAdminApp, createD1TenantStore, createDurableObjectLimiter } from '../../src/tenants/index.ts';

export { TenantLimiter } from '../../src/tenants/index.ts';

interface Env {
  DB: D1Database;
  TENANT_LIMITER: DurableObjectNamespace;
  ADMIN_TOKEN?: string;
}

export default {
  fetch(request: Request, env: Env): Response | Promise<Response> {
    const store = createD1TenantStore({ db: env.DB });
    const app = new Hono();
    app.route('/', createAdminApp({ store, adminToken: env.ADMIN_TOKEN }));
    // `at` (epoch ms) evaluates the key at another time: expiry and scheduled revocation without waiting.
    app.post('/test/authenticate', async (c) => {
      const { key, at } = await c.req.json<{ key: string | null; at?: number }>();
      const clocked = at === undefined ? store : createD1TenantStore({ db: env.DB, now: () => at });
      return c.json(await clocked.authenticate(key));
    });
    app.post('/test/admit', async (c) => {
      const { tenant_id, reserved, lease_ttl_ms } = await c.req.json<{ tenant_id: string; reserved: number; lease_ttl_ms?: number }>();
      const tenant = await store.getTenant(tenant_id);
      const limiter = createDurableObjectLimiter({ namespace: env.TENANT_LIMITER, leaseTtlMs: lease_ttl_ms });
      return tenant ? c.json(await limiter.admit(tenant, reserved)) : c.notFound();
    });
    // Many admissions at once from inside the runtime (in parallel, as concurrent requests would arrive).
    app.post('/test/admit-many', async (c) => {
      const { tenant_id, reserved, count } = await c.req.json<{ tenant_id: string; reserved: number; count: number }>();
      const tenant = await store.getTenant(tenant_id);
      if (!tenant) return c.notFound();
      const limiter = createDurableObjectLimiter({ namespace: env.TENANT_LIMITER });
      return c.json(await Promise.all(Array.from({ length: count }, () => limiter.admit(tenant, reserved))));
    });
    app.post('/test/release', async (c) => {
      const { tenant_id, lease_id, used } = await c.req.json<{ tenant_id: string; lease_id: string; used: number }>();
      const tenant = await store.getTenant(tenant_id);
      if (!tenant) return c.notFound();
      await createDurableObjectLimiter({ namespace: env.TENANT_LIMITER }).release(tenant, lease_id, used);
      return c.json({ ok: true });
    });
    app.post('/test/usage', async (c) => {
      await store.recordUsage(await c.req.json<UsageRecord>());
      return c.json({ ok: true });
    });
    return app.fetch(request, env);
  },
};
