import { openTenant } from '../../api/single-tenant.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tenant } from '../../api/tenancy.ts';
import { createMemoryLimiter } from './memory-limiter.ts';

const tenant = (id: string, limits: Partial<Tenant> = {}): Tenant => openTenant(id, limits);

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
  assert.ok(
    !broke.ok &&
      broke.refusal.code === 'insufficient_quota' &&
      /this month/.test(broke.refusal.message),
  );
});

test('options are validated at construction', () => {
  assert.throws(() => createMemoryLimiter({ leaseTtlMs: 0 }), RangeError);
});

test('budgetUsed seeds each budget period this process starts counting, so restarts and new budgets are enforced', async () => {
  let now = Date.UTC(2026, 0, 31, 12);
  const asked: [string, number, number][] = [];
  const january = Date.UTC(2026, 0, 1);
  const limiter = createMemoryLimiter({
    now: () => now,
    budgetUsed: (id, start, end) => {
      asked.push([id, start, end]);
      return start === january ? 990 : 0;
    },
  });
  const t = tenant('d', { budgetTokens: 1000, budgetPeriod: 'month' });
  const refused = await limiter.admit(t, 20);
  assert.ok(!refused.ok && refused.refusal.code === 'insufficient_quota');
  assert.deepEqual(asked, [['d', january, Date.UTC(2026, 1, 1)]]);
  assert.equal(
    (await limiter.admit(t, 10)).ok,
    true,
    'what is left of the budget can still be used',
  );
  assert.equal(asked.length, 1, 'asked once per period');
  now = Date.UTC(2026, 1, 1, 0, 0, 1); // a new month: what the store has for it (nothing yet)
  assert.equal((await limiter.admit(t, 900)).ok, true);
  assert.equal(asked.length, 2);

  // A tenant first seen without a budget, then given one: the store's usage counts against it at once.
  const later = createMemoryLimiter({ now: () => now, budgetUsed: () => 950 });
  assert.equal((await later.admit(tenant('e'), 500)).ok, true);
  const withBudget = tenant('e', { budgetTokens: 1000, budgetPeriod: 'month' });
  const over = await later.admit(withBudget, 100);
  assert.ok(!over.ok && over.refusal.code === 'insufficient_quota');
  assert.equal(
    (
      await createMemoryLimiter({
        budgetUsed: () => {
          throw new Error('not for tenants without a budget');
        },
      }).admit(tenant('f'), 5)
    ).ok,
    true,
  );
});
