import { assert, test } from './testing/harness.ts';
import { Xoshiro128 } from './prng.ts';

// Recorded once; a change here means seeded generations change in every runtime.
const GOLDEN_SEED_0 = [1789933344, 44971166, 2521387044, 3848737593];
const GOLDEN_SEED_123456789 = [525828425, 3007259908, 2366513248, 2649385779];

const first = (seed: number, n = 4): number[] => {
  const r = new Xoshiro128(seed);
  return Array.from({ length: n }, () => r.nextUint32());
};

test('same seed, same stream; different seeds differ', () => {
  assert.deepEqual(first(42), first(42));
  assert.notDeepEqual(first(42), first(43));
  assert.notDeepEqual(first(0), first(2 ** 32)); // the high half of the seed matters
});

test('xoshiro128** reference vector (state 1, 2, 3, 4)', () => {
  const r = Xoshiro128.fromState([1, 2, 3, 4]);
  assert.deepEqual(
    Array.from({ length: 6 }, () => r.nextUint32()),
    [11520, 0, 5927040, 70819200, 2031721883, 1637235492],
  );
});

test('golden values pin the seeded stream across runtimes', () => {
  assert.deepEqual(first(0), GOLDEN_SEED_0);
  assert.deepEqual(first(123456789), GOLDEN_SEED_123456789);
});

test('floats are in [0, 1) and roughly uniform', () => {
  const r = new Xoshiro128(7);
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 20000; i++) {
    const u = r.nextFloat();
    assert.ok(u >= 0 && u < 1);
    bins[Math.floor(u * 10)]++;
  }
  for (const b of bins) assert.ok(b > 1800 && b < 2200, `bin count ${b}`);
});
