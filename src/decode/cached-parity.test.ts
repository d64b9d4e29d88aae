/**
 * Property test: the cached mode produces exactly the reference's tokens, step events and confidences, with
 * NFE(cached) = NFE(reference) + 1 when there is a prompt block to prefill, over seeded random requests
 * covering every P mod B for B = 4, 8, 16, thresholds, steps <, =, > B, greedy and sampled draws, and EOS stops.
 */
import { assert, test } from './testing/harness.ts';
import { algorithmNames } from './algorithms/registry.ts';
import { decode } from './decode.ts';
import type { DecodeOptions } from './options.ts';
import { Xoshiro128 } from './prng.ts';
import { collect } from './testing/collect.ts';
import { ToyRunner } from './testing/toy-runner.ts';

const SAMPLERS: DecodeOptions[] = [
  {}, // greedy, top-k head
  { temperature: 0.8 }, // full logits
  { temperature: 1.3, topK: 4 }, // tempered top-k from the head
  { temperature: 0.7, topP: 0.8 }, // nucleus, full logits
  { temperature: 1, topK: 20, topP: 0.9 }, // top_k above the head's k: full logits
];
const THRESHOLDS = [0.3, 0.7, 0.95, 1];
const REPEATS = 4;

interface Tally {
  cases: number;
  multi: number;
  fallback: number;
  stop: number;
  length: number;
  earlyMidBlock: number;
}

test('cached == reference, token for token, over random requests', async () => {
  const rng = new Xoshiro128(20240611);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.nextFloat() * xs.length)];
  const tally: Tally = { cases: 0, multi: 0, fallback: 0, stop: 0, length: 0, earlyMidBlock: 0 };
  const seen = {
    samplers: new Set<number>(),
    thresholds: new Set<number>(),
    steps: new Set<string>(),
    eos: new Set<boolean>(),
    algos: new Set<string>(),
  };
  for (const B of [4, 8, 16]) {
    for (let m = 0; m < B; m++) {
      for (let rep = 0; rep < REPEATS; rep++) {
        const P = m + B * pick([0, 1, 2]) || B; // never P = 0 (spec §8)
        const stepsKind = pick(['<', '=', '>'] as const);
        const samplerIndex = pick([0, 1, 2, 3, 4]);
        const options: DecodeOptions = {
          ...SAMPLERS[samplerIndex],
          maxTokens: 1 + Math.floor(rng.nextFloat() * 2 * B),
          blockLength: B,
          steps: stepsKind === '<' ? Math.max(1, B / 2 - 1) : stepsKind === '=' ? B : B + 3,
          threshold: pick(THRESHOLDS),
          eosEarlyStop: pick([false, true]),
          seed: Math.floor(rng.nextFloat() * 1e9),
          algorithm: rep === 0 ? pick(algorithmNames()) : 'low_confidence',
        };
        const toy = { seed: pick([1, 2, 3]), eosBias: pick([0, 2, 4]) };
        const prompt = Array.from({ length: P }, () => Math.floor(rng.nextFloat() * 46)); // below eos (46) and mask (47)
        const label = JSON.stringify({ P, toy, ...options });
        const refRunner = new ToyRunner(toy);
        const cacheRunner = new ToyRunner(toy);
        const ref = await collect(decode(refRunner, prompt, { ...options, mode: 'reference' }));
        const cached = await collect(decode(cacheRunner, prompt, { ...options, mode: 'cached' }));
        assert.deepEqual(cached.result.tokens, ref.result.tokens, label);
        assert.equal(cached.result.finishReason, ref.result.finishReason, label);
        assert.deepEqual(cached.steps, ref.steps, label);
        assert.deepEqual(cached.blocks, ref.blocks, label);
        const prefill = P >= B ? 1 : 0;
        assert.equal(cached.result.stats.forwards, ref.result.stats.forwards + prefill, label);
        assert.equal(cacheRunner.forwards, cached.result.stats.forwards, label);
        assert.equal(cacheRunner.live, 0, `K/V leak: ${label}`);

        tally.cases++;
        for (const s of ref.steps) {
          if (s.committed.length > 1) tally.multi++;
          if (
            s.committed.length > 0 &&
            s.committed.every((c) => c.confidence <= options.threshold!)
          )
            tally.fallback++;
        }
        tally[ref.result.finishReason as 'stop' | 'length']++;
        if (
          options.eosEarlyStop &&
          ref.result.finishReason === 'stop' &&
          (ref.steps.at(-1)?.masked.length ?? 0) > 0
        )
          tally.earlyMidBlock++;
        seen.samplers.add(samplerIndex);
        seen.thresholds.add(options.threshold!);
        seen.steps.add(stepsKind);
        seen.eos.add(options.eosEarlyStop!);
        seen.algos.add(options.algorithm!);
      }
    }
  }
  // The random requests must have exercised every branch that matters.
  assert.equal(seen.samplers.size, SAMPLERS.length);
  assert.equal(seen.thresholds.size, THRESHOLDS.length);
  assert.equal(seen.steps.size, 3);
  assert.equal(seen.eos.size, 2);
  assert.equal(seen.algos.size, algorithmNames().length);
  for (const key of ['multi', 'fallback', 'stop', 'length', 'earlyMidBlock'] as const)
    assert.ok(tally[key] > 0, `${key}: ${JSON.stringify(tally)}`);
});
