import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admit,
  emptyLimiterState,
  refuseAny,
  release,
  reserve,
  type LimiterLimits,
  type LimiterState,
} from './buckets.ts';
import { formatDuration } from './rate-headers.ts';

const NONE: LimiterLimits = {
  rpm: null,
  tpm: null,
  maxConcurrent: null,
  budgetTokens: null,
  budgetPeriod: null,
};
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

/** A limiter state driven by a fake clock. */
function harness(limits: Partial<LimiterLimits>, ttl = 60_000) {
  const state: LimiterState = emptyLimiterState();
  let now = T0;
  let n = 0;
  const all = { ...NONE, ...limits };
  return {
    state,
    limits: all,
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    at: (ms: number) => {
      now = ms;
    },
    admit: (reservedTokens: number) =>
      admit(state, { limits: all, reservedTokens, now, leaseId: `lease-${++n}`, leaseTtlMs: ttl }),
    release: (leaseId: string, usedTokens: number) =>
      release(state, { limits: all, leaseId, usedTokens, now }),
  };
}

function leaseOf(admission: ReturnType<typeof admit>): string {
  assert.ok(admission.ok, admission.ok ? '' : admission.refusal.message);
  return admission.leaseId;
}

test('an unlimited tenant is always admitted, with no rate headers', () => {
  const h = harness({});
  for (let i = 0; i < 100; i++) assert.deepEqual(h.admit(10_000).headers, {});
});

test('rpm: a full bucket of rpm requests, then a refusal that says exactly when to retry', () => {
  const h = harness({ rpm: 6 }); // one request every 10 s
  for (let i = 0; i < 6; i++) leaseOf(h.admit(0));
  const refused = h.admit(0);
  assert.equal(refused.ok, false);
  if (refused.ok) return;
  assert.equal(refused.refusal.code, 'rate_limit_exceeded');
  assert.equal(refused.refusal.retryAfterMs, 10_000);
  assert.equal(refused.refusal.retryAfterSeconds, 10);
  assert.match(refused.refusal.message, /requests per min \(RPM\): limit 6/);
  assert.equal(refused.headers['x-ratelimit-remaining-requests'], '0');
  assert.equal(refused.headers['x-ratelimit-reset-requests'], '1m0s');
  h.advance(9_999);
  assert.equal(h.admit(0).ok, false);
  h.advance(1);
  const again = h.admit(0);
  assert.equal(again.ok, true);
  assert.equal(again.headers['x-ratelimit-limit-requests'], '6');
  assert.equal(again.headers['x-ratelimit-remaining-requests'], '0');
});

test('rpm refill is continuous and capped at the limit', () => {
  const h = harness({ rpm: 60 });
  leaseOf(h.admit(0));
  h.advance(500);
  assert.equal(h.admit(0).headers['x-ratelimit-remaining-requests'], '58'); // 58.5 left
  h.advance(3_600_000);
  assert.equal(h.admit(0).headers['x-ratelimit-remaining-requests'], '59');
});

test('tpm: the reservation is taken at admission and reconciled with real usage on release', () => {
  const h = harness({ tpm: 1000 });
  const first = h.admit(800);
  assert.equal(first.headers['x-ratelimit-remaining-tokens'], '200');
  assert.equal(first.headers['x-ratelimit-reset-tokens'], '48s');
  const refused = h.admit(300);
  assert.ok(!refused.ok && refused.refusal.retryAfterMs === 6_000);
  assert.equal(h.release(leaseOf(first), 100), true); // 700 unused tokens come back
  const second = h.admit(300);
  assert.equal(second.headers['x-ratelimit-remaining-tokens'], '600');
  h.release(leaseOf(second), 500); // used more than reserved: the excess is charged
  assert.equal(h.admit(0).headers['x-ratelimit-remaining-tokens'], '400');
});

test('a reservation that can never fit (over the whole tpm or budget) is refused for good, without debt', () => {
  const h = harness({ tpm: 600, budgetTokens: 1000, budgetPeriod: 'month' });
  const tooBig = h.admit(1_800);
  assert.ok(!tooBig.ok);
  assert.equal(tooBig.refusal.code, 'rate_limit_exceeded');
  assert.equal(tooBig.refusal.permanent, true);
  assert.match(
    tooBig.refusal.message,
    /Request too large for tokens per min \(TPM\): limit 600, requested 1800/,
  );
  const overBudget = harness({ budgetTokens: 1000, budgetPeriod: 'month' }).admit(1_001);
  assert.ok(!overBudget.ok && overBudget.refusal.code === 'insufficient_quota');
  assert.equal(overBudget.refusal.permanent, true);
  // Nothing was taken: a request that fits is admitted with the whole bucket.
  const fits = h.admit(600);
  assert.equal(fits.headers['x-ratelimit-remaining-tokens'], '0');
});

test('reserve: raises the lease once the prompt is counted; a refusal changes nothing', () => {
  const h = harness({ tpm: 1000, budgetTokens: 5000, budgetPeriod: 'day' });
  const first = leaseOf(h.admit(100));
  const raised = reserve(h.state, {
    limits: h.limits,
    leaseId: first,
    reservedTokens: 700,
    now: h.now(),
  });
  assert.ok(raised.ok);
  assert.equal(raised.headers['x-ratelimit-remaining-tokens'], '300');
  assert.equal(h.state.budget?.used, 700);
  const second = leaseOf(h.admit(0));
  const refused = reserve(h.state, {
    limits: h.limits,
    leaseId: second,
    reservedTokens: 400,
    now: h.now(),
  });
  assert.ok(
    !refused.ok && refused.refusal.code === 'rate_limit_exceeded' && !refused.refusal.permanent,
  );
  assert.equal(h.state.tokens?.level, 300, 'the refusal took nothing');
  assert.equal(h.state.leases[second].reserved, 0);
  const never = reserve(h.state, {
    limits: h.limits,
    leaseId: second,
    reservedTokens: 1001,
    now: h.now(),
  });
  assert.ok(!never.ok && never.refusal.permanent);
  // Releasing reconciles against the raised reservation.
  h.release(first, 50);
  assert.equal(h.state.tokens?.level, 950);
  assert.equal(h.state.budget?.used, 50);
  const gone = reserve(h.state, {
    limits: h.limits,
    leaseId: 'nope',
    reservedTokens: 1,
    now: h.now(),
  });
  assert.equal(gone.ok, false);
});

test('admission refuses an exhausted tpm bucket or budget even for a request that reserves nothing yet', () => {
  const h = harness({ tpm: 100, budgetTokens: 100, budgetPeriod: 'month' });
  const lease = leaseOf(h.admit(100));
  h.release(lease, 100);
  const refused = h.admit(0);
  assert.ok(!refused.ok && refused.refusal.code === 'insufficient_quota');
});

test('refuseAny: what admit would refuse at any size (budget, concurrency, rpm), changing nothing', () => {
  const refused = (h: ReturnType<typeof harness>) => refuseAny(h.state, h.limits, h.now());
  const broke = harness({ budgetTokens: 100, budgetPeriod: 'month', tpm: 1000 });
  assert.equal(refused(broke), null);
  broke.release(leaseOf(broke.admit(100)), 100);
  assert.equal(refused(broke)?.refusal.code, 'insufficient_quota');
  assert.equal(broke.admit(0).ok, false, 'admit agrees');

  const busy = harness({ maxConcurrent: 1 });
  const lease = leaseOf(busy.admit(1));
  assert.match(refused(busy)?.refusal.message ?? '', /concurrent/);
  busy.release(lease, 1);
  assert.equal(refused(busy), null);

  const rpm = harness({ rpm: 2 });
  leaseOf(rpm.admit(1));
  assert.equal(refused(rpm), null);
  leaseOf(rpm.admit(1)); // refuseAny took no request: both fit
  const last = refused(rpm);
  assert.equal(last?.refusal.code, 'rate_limit_exceeded');
  assert.equal(last?.headers['x-ratelimit-remaining-requests'], '0');
  rpm.advance(30_000); // one request refilled
  assert.equal(refused(rpm), null);

  // Limits that only a request's size can break (tpm, never-fits) are left to admit.
  const tpm = harness({ tpm: 10 });
  leaseOf(tpm.admit(10));
  assert.equal(refused(tpm), null);
});

test('a refusal consumes nothing from any bucket', () => {
  const h = harness({ rpm: 10, tpm: 100 });
  leaseOf(h.admit(90));
  for (let i = 0; i < 5; i++) assert.equal(h.admit(50).ok, false); // tokens refuse; requests untouched
  const ok = h.admit(10);
  assert.equal(ok.headers['x-ratelimit-remaining-requests'], '8');
  assert.equal(ok.headers['x-ratelimit-remaining-tokens'], '0');
});

test('concurrency: leases hold slots until released or expired', () => {
  const h = harness({ maxConcurrent: 2 }, 30_000);
  const a = leaseOf(h.admit(1));
  leaseOf(h.admit(1));
  const refused = h.admit(1);
  assert.ok(
    !refused.ok &&
      refused.refusal.code === 'rate_limit_exceeded' &&
      /concurrent/.test(refused.refusal.message),
  );
  h.release(a, 1);
  leaseOf(h.admit(1));
  assert.equal(h.admit(1).ok, false);
  h.advance(30_000); // both leases expire: a crashed request cannot hold a slot forever
  assert.equal(Object.keys(h.state.leases).length, 2);
  leaseOf(h.admit(1));
  assert.equal(Object.keys(h.state.leases).length, 1);
});

test('releasing an expired or unknown lease changes nothing', () => {
  const h = harness({ tpm: 1000 }, 1000);
  const lease = leaseOf(h.admit(500));
  h.advance(1000);
  assert.equal(h.release(lease, 0), false);
  assert.equal(h.release('nope', 0), false);
  assert.equal(h.admit(0).headers['x-ratelimit-remaining-tokens'], '516'); // 500 + 16.7 refilled, no refund
});

test('budget: reservations never overrun it; insufficient_quota until the period ends', () => {
  const h = harness({ budgetTokens: 1000, budgetPeriod: 'month' });
  const a = leaseOf(h.admit(600));
  const refused = h.admit(500);
  assert.ok(!refused.ok);
  if (refused.ok) return;
  assert.equal(refused.refusal.code, 'insufficient_quota');
  assert.match(refused.refusal.message, /400 of 1000 tokens left this month/);
  assert.equal(refused.refusal.retryAfterMs, Date.UTC(2026, 1, 1) - T0);
  h.release(a, 100); // reconciled: 100 used, 900 left
  const b = leaseOf(h.admit(900));
  h.release(b, 900);
  const exhausted = h.admit(0);
  assert.ok(!exhausted.ok && exhausted.refusal.code === 'insufficient_quota');
  h.at(Date.UTC(2026, 1, 1)); // next month: a fresh budget
  assert.equal(h.admit(1000).ok, true);
});

test('budget: daily periods, and a lease from the last period is not reconciled into the new one', () => {
  const h = harness({ budgetTokens: 100, budgetPeriod: 'day' });
  h.at(Date.UTC(2026, 0, 15, 23, 59));
  const late = leaseOf(h.admit(100));
  h.at(Date.UTC(2026, 0, 16, 0, 1));
  h.release(late, 0);
  assert.equal(h.state.budget?.used, 0);
  assert.equal(h.admit(100).ok, true);
});

test('lowering a limit takes effect at once (the bucket is clamped)', () => {
  const state = emptyLimiterState();
  const base = { ...NONE, tpm: 1000 };
  admit(state, { limits: base, reservedTokens: 0, now: T0, leaseId: 'a', leaseTtlMs: 1000 });
  const lowered = admit(state, {
    limits: { ...base, tpm: 100 },
    reservedTokens: 0,
    now: T0,
    leaseId: 'b',
    leaseTtlMs: 1000,
  });
  assert.equal(lowered.headers['x-ratelimit-remaining-tokens'], '100');
  assert.equal(lowered.headers['x-ratelimit-limit-tokens'], '100');
});

test('formatDuration writes Go-style durations as OpenAI does', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(20), '20ms');
  assert.equal(formatDuration(0.2), '1ms');
  assert.equal(formatDuration(1500), '1.5s');
  assert.equal(formatDuration(6000), '6s');
  assert.equal(formatDuration(360_000), '6m0s');
  assert.equal(formatDuration(90_250), '1m30.25s');
  assert.equal(formatDuration(3_723_000), '1h2m3s');
});
