/**
 * The TenantLimiter Durable Object inside workerd, reached through the DO-backed Limiter on the real clock:
 * rpm and tpm buckets, concurrency leases, the budget, one object per tenant, and state that survives a restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admission, UsageRecord } from '../../src/api/tenancy.ts';
import { startWorker, type WorkerHarness } from '../fixtures/tenants/harness.ts';
import { ADMISSION_WRITE_DELAY_MS } from '../../src/tenants/limiter/tenant-limiter-core.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function refusalOf(admission: Admission) {
  assert.ok(!admission.ok, 'expected a refusal');
  return admission.refusal;
}

function leaseOf(admission: Admission): string {
  assert.ok(admission.ok, admission.ok ? '' : admission.refusal.message);
  return admission.leaseId;
}

async function newTenant(w: WorkerHarness, body: Record<string, unknown>): Promise<string> {
  const { status, body: tenant } = await w.json<{ id: string }>('/admin/tenants', {
    admin: true,
    body: { name: 'lim', ...body },
  });
  assert.equal(status, 201);
  return tenant.id;
}

function limiterOf(w: WorkerHarness, tenantId: string) {
  return {
    admit: async (reserved: number, leaseTtlMs?: number) =>
      (
        await w.json<Admission>('/test/admit', {
          body: { tenant_id: tenantId, reserved, lease_ttl_ms: leaseTtlMs },
        })
      ).body,
    admitMany: async (reserved: number, count: number) =>
      (
        await w.json<Admission[]>('/test/admit-many', {
          body: { tenant_id: tenantId, reserved, count },
        })
      ).body,
    reserveMany: async (reserved: number, count: number) =>
      (
        await w.json<{ ok: boolean }[]>('/test/reserve-many', {
          body: { tenant_id: tenantId, reserved, count },
        })
      ).body,
    release: (leaseId: string, used: number, usage?: UsageRecord) =>
      w.json('/test/release', { body: { tenant_id: tenantId, lease_id: leaseId, used, usage } }),
    usageRequests: async (flush: boolean) =>
      (
        await w.json<{ requests: number }>('/test/usage-requests', {
          body: { tenant_id: tenantId, flush },
        })
      ).body.requests,
  };
}

describe('TenantLimiter Durable Object (workerd)', () => {
  let w: WorkerHarness;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'unmask-limiter-'));
    w = await startWorker({ persistDir: dir });
  });
  after(async () => {
    await w?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('rpm: a full bucket, then rate_limit_exceeded with retry-after, then recovery after the refill', async () => {
    const limiter = limiterOf(w, await newTenant(w, { rpm: 60 })); // refills one request per second
    const started = Date.now();
    const burst = await limiter.admitMany(0, 70);
    const admitted = burst.filter((a) => a.ok).length;
    // Exactly the bucket, plus at most what refilled (1/s) while the parallel burst ran.
    assert.ok(
      admitted >= 60 && admitted <= 60 + Math.ceil((Date.now() - started) / 1000),
      `admitted ${admitted}`,
    );
    assert.equal(refusalOf(burst.find((a) => !a.ok)!).code, 'rate_limit_exceeded');
    let refused = await limiter.admit(0);
    for (let i = 0; refused.ok && i < 20; i++) refused = await limiter.admit(0); // whatever refilled meanwhile
    const refusal = refusalOf(refused);
    assert.equal(refusal.code, 'rate_limit_exceeded');
    assert.equal(refusal.retryAfterSeconds, 1);
    assert.ok(
      refusal.retryAfterMs! > 0 && refusal.retryAfterMs! <= 1000,
      `retryAfterMs ${refusal.retryAfterMs}`,
    );
    assert.equal(refused.headers['x-ratelimit-limit-requests'], '60');
    assert.equal(refused.headers['x-ratelimit-remaining-requests'], '0');
    assert.match(refused.headers['x-ratelimit-reset-requests']!, /^(\d+(\.\d+)?s|1m0s)$/);
    await sleep(refusal.retryAfterMs! + 50);
    assert.ok((await limiter.admit(0)).ok);
  });

  test('tpm: prompt + max_tokens reserved at admission, reconciled with real usage on release', async () => {
    const limiter = limiterOf(w, await newTenant(w, { tpm: 60_000 }));
    const first = await limiter.admit(50_000);
    assert.ok(Number(first.headers['x-ratelimit-remaining-tokens']) <= 10_000);
    const refusal = refusalOf(await limiter.admit(20_000));
    // 10 000 tokens short at 1 000 tokens/s, less what refilled since the first admission.
    assert.ok(
      refusal.retryAfterMs! > 5_000 && refusal.retryAfterMs! <= 10_000,
      `retryAfterMs ${refusal.retryAfterMs}`,
    );
    await limiter.release(leaseOf(first), 1_000); // 49 000 unused tokens return to the bucket
    const second = await limiter.admit(20_000);
    assert.ok(second.ok);
    const remaining = Number(second.headers['x-ratelimit-remaining-tokens']);
    assert.ok(remaining >= 39_000 && remaining <= 45_000, `remaining ${remaining}`); // 39 000 + the refill since
  });

  test('reserve after admission is exact under concurrency: the tpm bucket and the budget are never overrun', async () => {
    const tpm = limiterOf(w, await newTenant(w, { tpm: 1000 }));
    const byTpm = await tpm.reserveMany(300, 12);
    assert.equal(byTpm.filter((r) => r.ok).length, 3, 'three reservations of 300 fit 1000');
    const budget = limiterOf(w, await newTenant(w, { budget_tokens: 1000, budget_period: 'day' }));
    const byBudget = await budget.reserveMany(150, 12);
    assert.equal(byBudget.filter((r) => r.ok).length, 6, 'six reservations of 150 fit 1000');
    const never = await limiterOf(w, await newTenant(w, { tpm: 100 })).reserveMany(101, 1);
    assert.equal(never[0].ok, false);
  });

  test('concurrency: the limit holds, release frees a slot, an abandoned lease expires', async () => {
    const limiter = limiterOf(w, await newTenant(w, { max_concurrent: 2 }));
    const a = leaseOf(await limiter.admit(1));
    leaseOf(await limiter.admit(1, 1500)); // this one "crashes": never released
    const refusal = refusalOf(await limiter.admit(1));
    assert.equal(refusal.code, 'rate_limit_exceeded');
    assert.match(refusal.message, /concurrent requests: limit 2/);
    await limiter.release(a, 1);
    leaseOf(await limiter.admit(1));
    assert.ok(!(await limiter.admit(1)).ok);
    await sleep(1600);
    leaseOf(await limiter.admit(1)); // the abandoned lease has expired
  });

  test('budget: reservations never overrun it; insufficient_quota until the period ends', async () => {
    const limiter = limiterOf(w, await newTenant(w, { budget_tokens: 1000, budget_period: 'day' }));
    const lease = leaseOf(await limiter.admit(900));
    const refusal = refusalOf(await limiter.admit(200));
    assert.equal(refusal.code, 'insufficient_quota');
    assert.match(refusal.message, /100 of 1000 tokens left this day/);
    const dayEnd = new Date();
    dayEnd.setUTCHours(24, 0, 0, 0);
    assert.ok(Math.abs(refusal.retryAfterSeconds - (dayEnd.getTime() - Date.now()) / 1000) < 5);
    await limiter.release(lease, 700);
    assert.ok((await limiter.admit(200)).ok, '300 tokens left after reconciliation');
  });

  test('each tenant has its own object: one tenant at its limit does not slow another', async () => {
    const busy = limiterOf(w, await newTenant(w, { rpm: 1 }));
    const idle = limiterOf(w, await newTenant(w, { rpm: 1 }));
    assert.ok((await busy.admit(0)).ok);
    assert.ok(!(await busy.admit(0)).ok);
    assert.ok((await idle.admit(0)).ok);
  });

  test('limiter state lives in DO storage and survives a restart of the runtime', async () => {
    const tenantId = await newTenant(w, { rpm: 2 });
    assert.equal((await limiterOf(w, tenantId).admitMany(0, 2)).filter((a) => a.ok).length, 2);
    // An admission's write is issued ADMISSION_WRITE_DELAY_MS later (a restart within it forgets the admission,
    // as documented); the runtime stops after that.
    await sleep(ADMISSION_WRITE_DELAY_MS + 40);
    await w.dispose();
    w = await startWorker({ persistDir: dir, migrate: false });
    const refusal = refusalOf(await limiterOf(w, tenantId).admit(0));
    assert.ok(
      refusal.retryAfterSeconds >= 25,
      `retry ${refusal.retryAfterSeconds}s: the bucket is still empty`,
    );
  });

  test('usage released but not yet written to D1 survives a restart, and is written once', async () => {
    const tenantId = await newTenant(w, {});
    const limiter = limiterOf(w, tenantId);
    const record = (requestId: string): UsageRecord => ({
      tenantId,
      keyId: 'key_test',
      requestId,
      model: 'm',
      backend: 'edge',
      promptTokens: 3,
      completionTokens: 4,
      status: 200,
      durationMs: 5,
      at: Date.now(),
    });
    for (const id of ['req_a', 'req_b'])
      await limiter.release(leaseOf(await limiter.admit(7)), 7, record(id));
    // The D1 write waits for the object's alarm (a second); the runtime stops before it.
    await w.dispose();
    w = await startWorker({ persistDir: dir, migrate: false });
    const restarted = limiterOf(w, tenantId);
    assert.equal(await restarted.usageRequests(true), 2);
    await restarted.release(leaseOf(await restarted.admit(7)), 7, record('req_a')); // a retried release
    assert.equal(await restarted.usageRequests(true), 2, 'the same request is never counted twice');
  });
});
