import { assert, test } from '../testing/harness.ts';
import { decode } from '../decode.ts';
import { collect } from '../testing/collect.ts';
import { ScriptedRunner, table } from '../testing/scripted-runner.ts';
import { picked, view } from '../testing/views.ts';
import { entropyThreshold } from './entropy-threshold.ts';

const H = (ps: number[]): number => -ps.reduce((h, p) => h + p * Math.log(p + 1e-8), 0);

test('entropy_threshold: lowest entropy always, others below max_entropy', () => {
  const probs = [
    [0.5, 0.5, 0, 0], // H = ln 2 = 0.69
    [0.97, 0.01, 0.01, 0.01], // H ≈ 0.17
    [0.25, 0.25, 0.25, 0.25], // H = ln 4 = 1.39
    [0.9, 0.05, 0.05, 0], // H ≈ 0.39
  ];
  const v = view([0.5, 0.97, 0.25, 0.9], { probs });
  assert.deepEqual(picked(entropyThreshold.create({}).select(v)), [0, 1, 3]);
  assert.deepEqual(picked(entropyThreshold.create({ max_entropy: 0.3 }).select(v)), [1]);
  assert.deepEqual(picked(entropyThreshold.create({ max_entropy: 0.01 }).select(v)), [1]);
});

test('entropy_threshold: the head estimate adds the missing mass as −r·ln p_k (a lower bound)', () => {
  const head = [0.6, 0.2, 0.1, 0.05]; // r = 0.05
  const estimate = H(head) - 0.05 * Math.log(0.05 + 1e-8);
  const v = view([0.6], { probs: [head] });
  // Just above and just below the estimate flip the decision for a second position with that head.
  const two = view([0.99, 0.6], { probs: [[0.99, 0.01, 0, 0], head] });
  assert.deepEqual(
    picked(entropyThreshold.create({ max_entropy: estimate + 1e-6 }).select(two)),
    [0, 1],
  );
  assert.deepEqual(
    picked(entropyThreshold.create({ max_entropy: estimate - 1e-6 }).select(two)),
    [0],
  );
  assert.deepEqual(picked(entropyThreshold.create({}).select(v)), [0]);
});

test('entropy_threshold: exact mode reads the full logits', () => {
  const logits = Float32Array.from([0, 0, 0, 0, 5, 0, 0, 0]); // two rows of vocab 4
  const v = view([0.25, 0.9], { logits, vocabSize: 4 });
  const algo = entropyThreshold.create({ exact: true, max_entropy: 1.38 });
  assert.equal(algo.needsLogits, true);
  assert.deepEqual(picked(algo.select(v)), [1]); // row 0 is uniform: ln 4 = 1.386 > 1.38
  assert.deepEqual(
    picked(entropyThreshold.create({ exact: true, max_entropy: 1.39 }).select(v)),
    [0, 1],
  );
});

test('entropy_threshold: golden decode (greedy, head estimate)', async () => {
  const conf: Record<number, [number, number]> = {
    4: [5, 0.99],
    5: [6, 0.9],
    6: [7, 0.4],
    7: [8, 0.3],
  };
  const runner = new ScriptedRunner(table((p) => conf[p]));
  const { steps, result } = await collect(
    decode(runner, [1, 2, 3, 4], {
      maxTokens: 4,
      algorithm: 'entropy_threshold',
      mode: 'reference',
    }),
  );
  // Entropies ≈ 0.10, 0.51, 2.2, 2.4 (the rest spread over 15 tokens): 4 and 5 first, then one per step.
  assert.deepEqual(
    steps.map((s) => s.committed.map((c) => c.index)),
    [[0, 1], [2], [3]],
  );
  assert.deepEqual(result.tokens, [5, 6, 7, 8]);
});
