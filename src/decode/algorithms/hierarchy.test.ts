import { assert, test } from '../testing/harness.ts';
import { decode } from '../decode.ts';
import { DecodeOptionsError } from '../errors.ts';
import { collect } from '../testing/collect.ts';
import { ScriptedRunner, table } from '../testing/scripted-runner.ts';
import { picked, view } from '../testing/views.ts';
import { hierarchy } from './hierarchy.ts';

const select = hierarchy.create({}).select;

test('hierarchy: the best of each masked run above low_threshold, plus the global top-1', () => {
  // Runs [0..2] and [4..5]: their maxima 0.6 (offset 1) and 0.5 (offset 5) both exceed 0.4.
  assert.deepEqual(picked(select(view([0.3, 0.6, 0.2, null, 0.45, 0.5]))), [1, 5]);
  // A run whose best is under low_threshold commits nothing unless it holds the global top-1.
  assert.deepEqual(picked(select(view([0.3, null, 0.35, 0.2]))), [2]);
});

test('hierarchy: ties inside a run all commit; anything above the threshold commits', () => {
  assert.deepEqual(
    picked(select(view([0.7, 0.7, null, 0.95, 0.1], { threshold: 0.9 }))),
    [0, 1, 3],
  );
  assert.deepEqual(
    picked(hierarchy.create({ low_threshold: 0.8 }).select(view([0.7, 0.6, null, 0.75]))),
    [3],
  );
});

test('hierarchy: low_threshold is validated', () => {
  assert.throws(() => hierarchy.create({ low_threshold: -0.1 }), DecodeOptionsError);
  assert.throws(() => hierarchy.create({ low_threshold: true }), DecodeOptionsError);
});

test('hierarchy: golden decode, one block', async () => {
  // P = 4, B = 4. Step 0: one run [4..7] → its best (6, 0.6) plus nothing else. Step 1: runs [4..5] and [7].
  const conf: Record<number, [number, number]> = {
    4: [5, 0.45],
    5: [6, 0.3],
    6: [7, 0.6],
    7: [8, 0.5],
  };
  const runner = new ScriptedRunner(table((p) => conf[p]));
  const { steps, result } = await collect(
    decode(runner, [1, 2, 3, 4], { maxTokens: 4, algorithm: 'hierarchy', mode: 'reference' }),
  );
  assert.deepEqual(
    steps.map((s) => s.committed.map((c) => c.index)),
    [[2], [0, 3], [1]],
  );
  assert.deepEqual(result.tokens, [5, 6, 7, 8]);
});
