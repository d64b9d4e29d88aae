import { assert, test } from '../testing/harness.ts';
import { decode } from '../decode.ts';
import { collect } from '../testing/collect.ts';
import { ScriptedRunner, table } from '../testing/scripted-runner.ts';
import { picked, view } from '../testing/views.ts';
import { factor } from './factor.ts';

const select = factor.create({}).select;

test('factor: longest prefix with c_r >= 1 - f/(r+1) (r = 2: 0.667, r = 3: 0.75, r = 4: 0.8)', () => {
  assert.deepEqual(picked(select(view([0.9, 0.7, 0.76, 0.79]))), [0, 2, 3]); // sorted 0.9, 0.79, 0.76, 0.7: 0.7 < 0.8
  assert.deepEqual(picked(select(view([0.9, 0.5, 0.6]))), [0]); // 0.6 < 0.667
  assert.deepEqual(picked(select(view([0.1, 0.05]))), [0]); // the first is always taken
  assert.deepEqual(picked(select(view([0.9, 0.85, 0.81, 0.82]))), [0, 1, 2, 3]);
  // The last candidate failing commits everything but it (dInfer's copy would commit it too).
  assert.deepEqual(picked(select(view([0.99, 0.99, 0.5]))), [0, 1]);
});

test('factor: a larger factor is more permissive', () => {
  assert.deepEqual(picked(factor.create({ factor: 2 }).select(view([0.9, 0.4, 0.5]))), [0, 2]); // 0.5 >= 1 - 2/3
});

test('factor: golden decode', async () => {
  const conf: Record<number, [number, number]> = {
    4: [5, 0.9],
    5: [6, 0.7],
    6: [7, 0.6],
    7: [8, 0.3],
  };
  const runner = new ScriptedRunner(table((p) => conf[p]));
  const { steps } = await collect(
    decode(runner, [1, 2, 3, 4], { maxTokens: 4, algorithm: 'factor', mode: 'cached' }),
  );
  assert.deepEqual(
    steps.map((s) => s.committed.map((c) => c.index)),
    [[0, 1], [2], [3]],
  );
});
