import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GenerationTrace } from './trace.ts';

const tok = (index: number, text: string, confidence = 0.9) => ({
  index,
  token: 100 + index,
  text,
  confidence,
});

test('the view at each step: new, earlier and masked cells of the active block, finished blocks before it', () => {
  const t = new GenerationTrace();
  // Block 2 covers outputs 0..3 (its first positions are prompt), block 3 outputs 4..7.
  t.add({ block: 2, step: 0, committed: [tok(1, 'b'), tok(0, 'a')], masked: [2, 3] }, 10);
  t.add({ block: 2, step: 1, committed: [tok(3, 'd')], masked: [2] }, 20);
  t.add({ block: 2, step: 2, committed: [tok(2, 'c')], masked: [] }, 30);
  t.add({ block: 3, step: 0, committed: [], masked: [4, 5, 6, 7] }, 40);
  t.add({ block: 3, step: 1, committed: [tok(4, '<|endoftext|>')], masked: [5, 6, 7] }, 50);

  const v1 = t.view(1)!;
  assert.equal(v1.block, 2);
  assert.deepEqual(
    v1.cells.map((c) => [c.index, c.state, c.token?.text ?? null, c.step ?? null]),
    [
      [0, 'committed', 'a', 0],
      [1, 'committed', 'b', 0],
      [2, 'masked', null, null],
      [3, 'new', 'd', 1],
    ],
  );
  assert.deepEqual(v1.before, []);

  const v4 = t.view()!;
  assert.equal(v4.k, 4);
  assert.deepEqual(
    v4.before.map((c) => c.text),
    ['a', 'b', 'c', 'd'],
  );
  assert.deepEqual(
    v4.cells.map((c) => c.state),
    ['new', 'masked', 'masked', 'masked'],
  );
  assert.equal(t.view(5), null);
  assert.deepEqual(
    t.tokens().map((c) => c.index),
    [0, 1, 2, 3, 4],
  );
});

test('readouts: forwards are steps, tokens per forward, time between steps, time to the first commit', () => {
  const t = new GenerationTrace();
  assert.equal(t.readouts().forwards, 0);
  assert.equal(t.readouts().msPerForward, null);
  t.add({ block: 0, step: 0, committed: [], masked: [0, 1] }, 100);
  assert.equal(t.readouts().msPerForward, 100);
  assert.equal(t.readouts().firstTokenMs, null);
  t.add({ block: 0, step: 1, committed: [tok(0, 'x'), tok(1, 'y')], masked: [] }, 130);
  t.add({ block: 1, step: 0, committed: [tok(2, 'z')], masked: [] }, 160);
  const r = t.readouts();
  assert.equal(r.forwards, 3);
  assert.equal(r.committed, 3);
  assert.equal(r.tokensPerForward, 1);
  assert.equal(r.msPerForward, 30);
  assert.equal(r.firstTokenMs, 130);
  assert.equal(t.readouts(0).forwards, 1);
});
