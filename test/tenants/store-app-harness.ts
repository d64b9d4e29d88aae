/**
 * An in-process StoreHarness (store-contract.ts) over any TenantAdminStore built with a clock: the admin API plus
 * the two test routes, served by Hono's app.request (no runtime to start).
 */
import { Hono } from 'hono';
import type { UsageRecord } from '../../src/api/tenancy.ts';
import { createAdminApp } from '../../src/tenants/index.ts';
import type { TenantAdminStore } from '../../src/tenants/types.ts';
import type { StoreHarness } from './store-contract.ts';

export const HARNESS_ADMIN_TOKEN = 'admin-test-token';

/** `makeStore(now)`: the store under test, reading the clock through `now` (so /test/authenticate can move it). */
export function storeAppHarness(makeStore: (now: () => number) => TenantAdminStore, dispose: () => Promise<void> | void = () => {}): StoreHarness {
  let at: number | undefined;
  const store = makeStore(() => at ?? Date.now());
  const app = new Hono();
  app.route('/', createAdminApp({ store, adminToken: HARNESS_ADMIN_TOKEN }));
  app.post('/test/authenticate', async (c) => {
    const body = await c.req.json<{ key: string | null; at?: number }>();
    at = body.at;
    try { return c.json(await store.authenticate(body.key)); } finally { at = undefined; }
  });
  app.post('/test/usage', async (c) => {
    await store.recordUsage(await c.req.json<UsageRecord>());
    return c.json({ ok: true });
  });
  return {
    async json(path, init = {}) {
      const headers: Record<string, string> = {};
      if (init.admin) headers.authorization = `Bearer ${HARNESS_ADMIN_TOKEN}`;
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const res = await app.request(path, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
      return { status: res.status, body: await res.json() };
    },
    dispose,
  };
}
