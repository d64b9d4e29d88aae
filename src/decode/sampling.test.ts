import { assert, test } from './testing/harness.ts';
import { Xoshiro128 } from './prng.ts';
import { RowSampler, type SamplingParams } from './sampling.ts';

/** HF `_sample_with_temperature_topk_topp`'s distribution, written the slow obvious way. */
function hfDistribution(logits: number[], { temperature, topK, topP }: SamplingParams): number[] {
  let s = logits.map((l) => (temperature === 1 ? l : l / temperature));
  if (topK > 0 && topK < s.length) {
    const kth = [...s].sort((a, b) => b - a)[topK - 1];
    s = s.map((v) => (v < kth ? -Infinity : v));
  }
  const max = Math.max(...s);
  let p = s.map((v) => Math.exp(v - max));
  const z = p.reduce((a, b) => a + b, 0);
  p = p.map((v) => v / z);
  if (topP < 1) {
    const order = p.map((_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
    let cum = 0;
    const drop = new Set<number>();
    order.forEach((i, r) => {
      if (r > 0 && cum > topP) drop.add(i);
      cum += p[i];
    });
    p = p.map((v, i) => (drop.has(i) ? 0 : v));
    const z2 = p.reduce((a, b) => a + b, 0);
    p = p.map((v) => v / z2);
  }
  return p;
}

function randomLogits(rng: Xoshiro128, n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.nextFloat() - 0.5) * scale);
}

/** Top-k head of a full row: sorted descending, ties to the lower id. */
function head(logits: Float32Array, k: number): { values: Float32Array; ids: Int32Array } {
  const order = Array.from(logits.keys())
    .sort((a, b) => logits[b] - logits[a] || a - b)
    .slice(0, k);
  return { values: Float32Array.from(order, (i) => logits[i]), ids: Int32Array.from(order) };
}

const CASES: SamplingParams[] = [
  { temperature: 1, topK: 0, topP: 1 },
  { temperature: 0.5, topK: 0, topP: 1 },
  { temperature: 1.7, topK: 5, topP: 1 },
  { temperature: 0.8, topK: 0, topP: 0.7 },
  { temperature: 1, topK: 12, topP: 0.9 },
  { temperature: 2, topK: 3, topP: 0.5 },
];

test('draw frequencies over a uniform grid equal the HF distribution, and conf is the drawn prob', () => {
  const rng = new Xoshiro128(5);
  const sampler = new RowSampler();
  for (const params of CASES) {
    for (let trial = 0; trial < 5; trial++) {
      const logits = randomLogits(rng, 40, 8);
      const want = hfDistribution(Array.from(logits), params);
      const N = 4000;
      const counts = new Array(40).fill(0);
      for (let g = 0; g < N; g++) {
        const pick = sampler.sample(logits, null, params, (g + 0.5) / N);
        counts[pick.token]++;
        assert.ok(
          Math.abs(pick.prob - want[pick.token]) < 1e-6,
          'confidence = prob under the filtered distribution',
        );
      }
      counts.forEach((c, t) =>
        assert.ok(
          Math.abs(c / N - want[t]) <= 1.5 / N + 1e-9,
          `token ${t}: ${c / N} vs ${want[t]}`,
        ),
      );
    }
  }
});

test('the draw walks kept tokens in ascending id: u = 0 gives the lowest kept id', () => {
  const logits = Float32Array.from([0, 5, 1, 4, 3]);
  const pick = new RowSampler().sample(logits, null, { temperature: 1, topK: 2, topP: 1 }, 0);
  assert.equal(pick.token, 1); // kept {1, 3}; id 1 first
  const top = new RowSampler().sample(logits, null, { temperature: 1, topK: 2, topP: 1 }, 0.999999);
  assert.equal(top.token, 3);
});

test('top-k keeps every token tied with the k-th value (HF `logits < kth` mask)', () => {
  const logits = Float32Array.from([1, 3, 2, 2, 0]);
  const sampler = new RowSampler();
  const seen = new Set<number>();
  for (let g = 0; g < 100; g++)
    seen.add(sampler.sample(logits, null, { temperature: 1, topK: 2, topP: 1 }, g / 100).token);
  assert.deepEqual([...seen].sort(), [1, 2, 3]);
});

test('top-p keeps the first token over p', () => {
  // probs ∝ [0.5, 0.3, 0.2]: p = 0.6 keeps {0, 1} (0.5 <= 0.6, then 0.8 > 0.6 drops the rest).
  const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
  const sampler = new RowSampler();
  const seen = new Set<number>();
  for (let g = 0; g < 100; g++)
    seen.add(sampler.sample(logits, null, { temperature: 1, topK: 0, topP: 0.6 }, g / 100).token);
  assert.deepEqual([...seen].sort(), [0, 1]);
  const pick = sampler.sample(logits, null, { temperature: 1, topK: 0, topP: 0.6 }, 0);
  assert.ok(Math.abs(pick.prob - 0.5 / 0.8) < 1e-6);
});

test('a top-k head gives the same draws as the full vocabulary for top_k <= k', () => {
  const rng = new Xoshiro128(9);
  const sampler = new RowSampler();
  for (let trial = 0; trial < 50; trial++) {
    const logits = randomLogits(rng, 64, 10);
    const { values, ids } = head(logits, 8);
    for (const params of [
      { temperature: 0.7, topK: 8, topP: 1 },
      { temperature: 1, topK: 5, topP: 0.8 },
      { temperature: 1.5, topK: 3, topP: 1 },
    ]) {
      const u = rng.nextFloat();
      const full = sampler.sample(logits, null, params, u);
      const fromHead = sampler.sample(values, ids, params, u);
      assert.deepEqual(fromHead, full);
    }
  }
});
