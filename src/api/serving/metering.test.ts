import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono, type Context } from 'hono';
import { openTenant } from '../single-tenant.ts';
import type { Admission, Limiter, Tenant } from '../tenancy.ts';
import { createMemoryLimiter } from '../../tenants/limiter/memory-limiter.ts';
import { createMemoryTenantStore } from '../../tenants/memory/store.ts';
import { createMeter, type MeteredRequest } from './metering.ts';

/** A Workers-like execution context: what was handed to waitUntil, and whether each promise has ended. */
function executionContext() {
  const kept: { settled: boolean }[] = [];
  return {
    kept,
    ctx: {
      waitUntil(p: Promise<unknown>) {
        const entry = { settled: false };
        kept.push(entry);
        void p.finally(() => (entry.settled = true));
      },
      passThroughOnException() {},
      props: {},
    },
  };
}

/** The memory limiter, with admission held until `open()` and a log of what happened in which order. */
function gatedLimiter(events: string[], kept: { settled: boolean }[]) {
  const inner = createMemoryLimiter();
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const limiter: Limiter = {
    async admit(tenant: Tenant, reserved: number): Promise<Admission> {
      events.push(`admit called, ${kept.length} kept alive`);
      await gate;
      return inner.admit(tenant, reserved);
    },
    reserve: (t, id, n) => inner.reserve(t, id, n),
    async release(t, id, used) {
      events.push(`release ${used}`);
      return inner.release(t, id, used);
    },
  };
  return { limiter, open };
}

function appWith(limiter: Limiter, tenant: Tenant, use: (m: MeteredRequest) => void) {
  const meter = createMeter({ limiter, tenants: createMemoryTenantStore() });
  const app = new Hono();
  app.post('/gen', async (c: Context) => {
    c.set('tenant', tenant);
    c.set('keyId', 'key-1');
    c.set('requestId', 'req-1');
    c.set('clientRequestId', null);
    c.set('pendingAuth', undefined);
    try {
      use(await meter(c, { tenant, model: 'm', backend: () => 'edge', reservedTokens: 4 }));
      return c.json({ ok: true });
    } catch (e) {
      return c.json({ refused: (e as Error).message }, 429);
    }
  });
  return app;
}

test('the settlement is kept alive from before the admission call, so a hang-up then cannot orphan the lease', async () => {
  const { kept, ctx } = executionContext();
  const events: string[] = [];
  const { limiter, open } = gatedLimiter(events, kept);
  const app = appWith(limiter, openTenant('t1', {}), (m) =>
    m.settle({ promptTokens: 4, completionTokens: 6, status: 200 }),
  );
  const answer = app.fetch(new Request('http://x/gen', { method: 'POST' }), {}, ctx);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, ['admit called, 1 kept alive']);
  open();
  assert.equal((await answer).status, 200);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, ['admit called, 1 kept alive', 'release 10']);
  assert.deepEqual(kept, [{ settled: true }]);
});

test('a refused admission lets the kept-alive promise end (nothing waits forever)', async () => {
  const { kept, ctx } = executionContext();
  const events: string[] = [];
  const { limiter, open } = gatedLimiter(events, kept);
  open();
  const tenant = openTenant('t2', { rpm: 1 });
  const app = appWith(limiter, tenant, (m) =>
    m.settle({ promptTokens: 1, completionTokens: 0, status: 200 }),
  );
  assert.equal(
    (await app.fetch(new Request('http://x/gen', { method: 'POST' }), {}, ctx)).status,
    200,
  );
  assert.equal(
    (await app.fetch(new Request('http://x/gen', { method: 'POST' }), {}, ctx)).status,
    429,
  );
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(kept, [{ settled: true }, { settled: true }]);
  assert.deepEqual(events, [
    'admit called, 1 kept alive',
    'release 1',
    'admit called, 2 kept alive',
  ]);
});

test('a remote release (releaseAfterResponse) starts only after the answer, and is still kept alive', async () => {
  const { kept, ctx } = executionContext();
  const events: string[] = [];
  const { limiter: gated, open } = gatedLimiter(events, kept);
  open();
  const limiter: Limiter = { ...gated, releaseAfterResponse: true };
  const app = appWith(limiter, openTenant('t3', {}), (m) =>
    m.settle({ promptTokens: 2, completionTokens: 3, status: 200 }),
  );
  const answer = await app.fetch(new Request('http://x/gen', { method: 'POST' }), {}, ctx);
  assert.equal(answer.status, 200);
  assert.deepEqual(
    events,
    ['admit called, 1 kept alive'],
    'nothing of the release before the answer',
  );
  assert.deepEqual(kept, [{ settled: false }]);
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(events, ['admit called, 1 kept alive', 'release 5']);
  assert.deepEqual(kept, [{ settled: true }]);
});
