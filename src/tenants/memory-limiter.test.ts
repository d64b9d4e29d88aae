import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tenant } from '../api/tenancy.ts';
import { createMemoryLimiter } from './memory-limiter.ts';

const tenant = (id: string, limits: Partial<Tenant> = {}): Tenant => ({
  id, name: id, models: null, rpm: null, tpm: null, maxConcurrent: null, maxTokens: null, budgetTokens: null,
  budgetPeriod: null, degradeToEdge: false, createdAt: 0, ...limits,
});

test('the memory limiter keeps one state per tenant and follows its clock', async () => {
  let now = Date.UTC(2026, 0, 1);
  const limiter = createMemoryLimiter({ now: () => now });
  const a = tenant('a', { rpm: 2 });
  const b = tenant('b', { rpm: 2 });
  assert.equal((await limiter.admit(a, 0)).ok, true);
  assert.equal((await limiter.admit(a, 0)).ok, true);
  const refused = await limiter.admit(a, 0);
  assert.ok(!refused.ok && refused.refusal.retryAfterSeconds === 30);
  assert.equal((await limiter.admit(b, 0)).ok, true); // another tenant is unaffected
  now += 30_000;
  assert.equal((await limiter.admit(a, 0)).ok, true);
});

test('release frees the concurrency slot and reconciles tokens; a budget tenant defaults to monthly', async () => {
  const now = Date.UTC(2026, 0, 1);
  const limiter = createMemoryLimiter({ now: () => now });
  const t = tenant('c', { maxConcurrent: 1, tpm: 100, budgetTokens: 150 });
  const first = await limiter.admit(t, 100);
  assert.ok(first.ok);
  const busy = await limiter.admit(t, 1);
  assert.ok(!busy.ok && /concurrent/.test(busy.refusal.message));
  await limiter.release(t, first.leaseId, 20);
  const second = await limiter.admit(t, 80);
  assert.ok(second.ok);
  assert.equal(second.headers['x-ratelimit-remaining-tokens'], '0');
  await limiter.release(t, second.leaseId, 80);
  const broke = await limiter.admit(t, 60); // 100 of 150 used this month
  assert.ok(!broke.ok && broke.refusal.code === 'insufficient_quota' && /this month/.test(broke.refusal.message));
});

test('options are validated at construction', () => {
  assert.throws(() => createMemoryLimiter({ leaseTtlMs: 0 }), RangeError);
});

test('budgetUsed seeds the current period once, so a restarted process still enforces the budget', async () => {
  let now = Date.UTC(2026, 0, 31, 12);
  const asked: [string, number, number][] = [];
  const limiter = createMemoryLimiter({ now: () => now, budgetUsed: (id, start, end) => { asked.push([id, start, end]); return 990; } });
  const t = tenant('d', { budgetTokens: 1000, budgetPeriod: 'month' });
  const refused = await limiter.admit(t, 20);
  assert.ok(!refused.ok && refused.refusal.code === 'insufficient_quota');
  assert.deepEqual(asked, [['d', Date.UTC(2026, 0, 1), Date.UTC(2026, 1, 1)]]);
  assert.equal((await limiter.admit(t, 10)).ok, true, 'what is left of the budget can still be used');
  now = Date.UTC(2026, 1, 1, 0, 0, 1); // a new month: a fresh budget, not asked again
  assert.equal((await limiter.admit(t, 900)).ok, true);
  assert.equal(asked.length, 1);
  assert.equal((await createMemoryLimiter({ budgetUsed: () => { throw new Error('not for tenants without a budget'); } }).admit(tenant('e'), 5)).ok, true);
});
