/** The in-memory tenant store held to the TenantStore contract, plus what only it promises. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryTenantStore, type TenantSnapshot } from '../index.ts';
import { tenantStoreContract } from '../../../test/fixtures/tenants/store-contract.ts';
import { storeAppHarness } from '../../../test/fixtures/tenants/store-app-harness.ts';

tenantStoreContract('memory tenant store', async () =>
  storeAppHarness((now) => createMemoryTenantStore({ now })),
);

test('every admin change is persisted before it returns; a change that cannot be persisted is undone', async () => {
  const snapshots: TenantSnapshot[] = [];
  let failNext = false;
  const store = createMemoryTenantStore({
    persist: async (s) => {
      if (failNext) {
        failNext = false;
        throw new Error('disk full');
      }
      snapshots.push(structuredClone(s));
    },
  });
  const tenant = await store.createTenant({ name: 'acme', rpm: 5 });
  const key = await store.createKey({ tenantId: tenant.id });
  assert.equal(snapshots.length, 2);
  assert.equal(snapshots[1].keys[0].id, key.id);
  assert.equal(
    'key' in snapshots[1].keys[0],
    false,
    'the key itself is never persisted, only its hash',
  );
  assert.match(snapshots[1].keys[0].hash, /^[0-9a-f]{64}$/);

  failNext = true;
  await assert.rejects(store.updateTenant(tenant.id, { rpm: 99 }), /disk full/);
  assert.equal((await store.getTenant(tenant.id))?.rpm, 5, 'the failed update is rolled back');
  failNext = true;
  await assert.rejects(store.rotateKey(key.id, { revokeOldAt: Date.now() }), /disk full/);
  assert.equal((await store.listKeys(tenant.id)).length, 1, 'no half-rotated key');
  assert.equal((await store.authenticate(key.key)).ok, true);
});

test('a restart from a snapshot and the usage log keeps keys, limits and budget consumption', async () => {
  let saved: TenantSnapshot | undefined;
  const log: unknown[] = [];
  const first = createMemoryTenantStore({
    persist: async (s) => {
      saved = structuredClone(s);
    },
    appendUsage: async (r) => {
      log.push(r);
    },
  });
  const tenant = await first.createTenant({
    name: 'acme',
    budgetTokens: 1000,
    budgetPeriod: 'day',
  });
  const key = await first.createKey({ tenantId: tenant.id });
  const record = {
    tenantId: tenant.id,
    keyId: key.id,
    requestId: 'r1',
    model: 'tiny',
    backend: 'edge',
    promptTokens: 30,
    completionTokens: 70,
    status: 200,
    durationMs: 5,
    at: Date.now(),
  };
  await first.recordUsage(record);
  await first.recordUsage(record);
  assert.equal(log.length, 1, 'a repeated request id is logged once');

  const second = createMemoryTenantStore({ initial: saved, usage: log as never[] });
  const auth = await second.authenticate(key.key);
  assert.ok(auth.ok && auth.tenant.budgetTokens === 1000);
  const usage = await second.usage(tenant.id);
  assert.equal(usage.requests, 1);
  assert.equal(usage.budget?.usedTokens, 100);
  const now = Date.now();
  assert.equal(second.usedTokens(tenant.id, now - 60_000, now + 60_000), 100);
});

test('a usage record whose append fails is forgotten, so a retry of it is written', async () => {
  let fail = true;
  const written: unknown[] = [];
  const store = createMemoryTenantStore({
    appendUsage: async (r) => {
      if (fail) throw new Error('disk full');
      written.push(r);
    },
  });
  const tenant = await store.createTenant({ name: 'a' });
  const record = {
    tenantId: tenant.id,
    keyId: 'k',
    requestId: 'r1',
    model: 'm',
    backend: 'b',
    promptTokens: 1,
    completionTokens: 2,
    status: 200,
    durationMs: 1,
    at: Date.now(),
  };
  await assert.rejects(store.recordUsage(record), /disk full/);
  assert.equal((await store.usage(tenant.id)).requests, 0);
  fail = false;
  await store.recordUsage(record);
  assert.equal(written.length, 1);
  assert.equal((await store.usage(tenant.id)).requests, 1);
});
