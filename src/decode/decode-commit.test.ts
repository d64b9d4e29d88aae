/** Golden tests of the commit rule (spec §1.3 steps 4–7) through decode(), with a scripted runner. */
import { assert, test } from './testing/harness.ts';
import { decode } from './decode.ts';
import { collect } from './testing/collect.ts';
import { ScriptedRunner, table } from './testing/scripted-runner.ts';

const PROMPT = [1, 2, 3, 4]; // P = 4 = B: the first decode block is block 1, positions 4..7
const committed = (steps: { committed: { index: number; token: number }[] }[]): number[][] =>
  steps.map((s) => s.committed.map((c) => c.index));

for (const mode of ['reference', 'cached'] as const) {
  test(`${mode}: commits everything strictly above the threshold, else the top-1`, async () => {
    const conf: Record<number, [number, number]> = {
      4: [5, 0.99],
      5: [6, 0.97],
      6: [7, 0.5],
      7: [8, 0.4],
    };
    const runner = new ScriptedRunner(table((p) => conf[p]));
    const { steps, blocks, result } = await collect(
      decode(runner, PROMPT, { maxTokens: 4, threshold: 0.95, mode }),
    );
    assert.deepEqual(committed(steps), [[0, 1], [2], [3]]);
    assert.deepEqual(steps[0].masked, [2, 3]);
    assert.deepEqual(steps[2].masked, []);
    assert.deepEqual(result.tokens, [5, 6, 7, 8]);
    assert.deepEqual(
      blocks.map((b) => b.tokens),
      [[5, 6, 7, 8]],
    );
    assert.equal(result.finishReason, 'length');
    assert.equal(result.stats.forwards, mode === 'cached' ? 4 : 3); // cached adds the prompt-block prefill
    assert.equal(result.stats.prefillForwards, mode === 'cached' ? 1 : 0);
    assert.equal(runner.forwards, result.stats.forwards);
  });
}

test('strict >: a confidence equal to the threshold does not qualify; token ties go to the lower id', async () => {
  // Two tokens with equal logits and the rest at -inf: softmax gives exactly 0.5 to each.
  const row = Array.from({ length: 16 }, (_, t) => (t === 5 || t === 6 ? 0 : -Infinity));
  const runner = new ScriptedRunner(() => row);
  const at = await collect(
    decode(runner, PROMPT, { maxTokens: 4, threshold: 0.5, mode: 'reference' }),
  );
  assert.deepEqual(committed(at.steps), [[0], [1], [2], [3]]);
  assert.deepEqual(at.steps[0].committed[0], { index: 0, token: 5, confidence: 0.5 });
  const below = await collect(
    decode(runner, PROMPT, { maxTokens: 4, threshold: 0.49, mode: 'reference' }),
  );
  assert.deepEqual(committed(below.steps), [[0, 1, 2, 3]]);
});

test('steps < B: the fallback commits the top-n (n = schedule[k]) by confidence', async () => {
  const conf: Record<number, [number, number]> = {
    4: [5, 0.6],
    5: [6, 0.4],
    6: [7, 0.7],
    7: [8, 0.5],
  };
  const runner = new ScriptedRunner(table((p) => conf[p]));
  const { steps, result } = await collect(
    decode(runner, PROMPT, { maxTokens: 4, steps: 2, mode: 'reference' }),
  );
  assert.deepEqual(committed(steps), [
    [0, 2],
    [1, 3],
  ]);
  assert.deepEqual(result.tokens, [5, 6, 7, 8]);
  assert.equal(result.stats.forwards, 2);
});

test('steps < B: when |high| >= n all of them commit, possibly more than n', async () => {
  const conf: Record<number, [number, number]> = {
    4: [5, 0.99],
    5: [6, 0.98],
    6: [7, 0.97],
    7: [8, 0.5],
  };
  const runner = new ScriptedRunner(table((p) => conf[p]));
  const { steps } = await collect(
    decode(runner, PROMPT, { maxTokens: 4, steps: 2, mode: 'reference' }),
  );
  assert.deepEqual(committed(steps), [[0, 1, 2], [3]]);
});

test('steps < B: one high position and n = 2 commits the top-2 (it plus the next best)', async () => {
  const conf: Record<number, [number, number]> = {
    4: [5, 0.3],
    5: [6, 0.99],
    6: [7, 0.2],
    7: [8, 0.5],
  };
  const runner = new ScriptedRunner(table((p) => conf[p]));
  const { steps } = await collect(
    decode(runner, PROMPT, { maxTokens: 4, steps: 2, mode: 'reference' }),
  );
  assert.deepEqual(committed(steps), [
    [1, 3],
    [0, 2],
  ]);
});

test('ties in confidence go to the lower position', async () => {
  const runner = new ScriptedRunner(table((p) => (p >= 4 ? [p, 0.5] : undefined)));
  const one = await collect(decode(runner, PROMPT, { maxTokens: 4, mode: 'reference' }));
  assert.deepEqual(committed(one.steps), [[0], [1], [2], [3]]);
  const two = await collect(decode(runner, PROMPT, { maxTokens: 4, steps: 2, mode: 'reference' }));
  assert.deepEqual(committed(two.steps), [
    [0, 1],
    [2, 3],
  ]);
});

test('the steps cap min(steps, floor(G / minimal_topk)) changes the schedule', async () => {
  const runner = new ScriptedRunner(table((p) => (p >= 4 ? [p, 0.5] : undefined)));
  // G = 2 caps S at 2: schedule [2, 2], so the first step already commits two.
  const { steps, result } = await collect(
    decode(runner, PROMPT, { maxTokens: 2, mode: 'reference' }),
  );
  assert.deepEqual(committed(steps), [
    [0, 1],
    [2, 3],
  ]);
  assert.deepEqual(result.tokens, [4, 5]); // positions 6, 7 are decoded, then dropped
  // minimal_topk = 2 with G = 4 caps S at 2 too.
  const capped = await collect(
    decode(runner, PROMPT, { maxTokens: 4, minimalTopk: 2, mode: 'reference' }),
  );
  assert.deepEqual(committed(capped.steps), [
    [0, 1],
    [2, 3],
  ]);
});

test('only masked positions commit; the prompt tail is never rewritten', async () => {
  // P = 6, B = 4: block 1 holds prompt[4:6] and two masks, all scripted as very confident.
  const runner = new ScriptedRunner(table((p) => (p >= 4 ? [9, 0.99] : undefined)));
  const { steps, result } = await collect(
    decode(runner, [1, 2, 3, 4, 5, 6], { maxTokens: 2, mode: 'reference' }),
  );
  assert.deepEqual(
    steps[0].committed.map((c) => c.index),
    [0, 1],
  );
  assert.deepEqual(result.tokens, [9, 9]);
  assert.equal(result.stats.committedTokens, 2);
});
