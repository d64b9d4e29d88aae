import { assert, test } from './testing/harness.ts';
import { planLayout, transferSchedule } from './layout.ts';

test('transfer schedule matches HF _get_num_transfer_tokens', () => {
  assert.deepEqual(transferSchedule(32, 32), new Array(32).fill(1));
  assert.deepEqual(transferSchedule(8, 3), [3, 3, 2]);
  assert.deepEqual(transferSchedule(4, 6), [1, 1, 1, 1, 0, 0]);
  assert.deepEqual(transferSchedule(16, 5), [4, 3, 3, 3, 3]);
  for (const [b, s] of [
    [32, 7],
    [8, 8],
    [5, 9],
  ]) {
    assert.equal(
      transferSchedule(b, s).reduce((x, y) => x + y, 0),
      b,
    );
  }
});

test('canvas layout: prompt not padded, blocks from position 0 (spec §1.2 example P=45, B=32)', () => {
  const l = planLayout(45, 100, 32, 32, 1);
  assert.equal(l.numBlocks, 5); // ceil(145 / 32)
  assert.equal(l.canvasLength, 160);
  assert.equal(l.firstBlock, 1); // block 1 = prompt[32:45] + 19 masks
  assert.equal(l.steps, 32);
});

test('block-aligned prompt starts on an all-mask block', () => {
  const l = planLayout(64, 10, 32, 32, 1);
  assert.equal(l.firstBlock, 2);
  assert.equal(l.canvasLength, 96);
});

test('steps are capped at floor(G / minimal_topk)', () => {
  assert.equal(planLayout(3, 5, 8, 8, 1).steps, 5);
  assert.equal(planLayout(3, 9, 8, 8, 2).steps, 4);
  assert.deepEqual(planLayout(3, 9, 8, 8, 2).schedule, [2, 2, 2, 2]);
});
