import { assert, test } from '../testing/harness.ts';
import { picked, view } from '../testing/views.ts';
import { lowConfidence } from './low-confidence.ts';
import { topUp } from './rank.ts';

const select = lowConfidence.create({}).select;

test('low_confidence: all strictly above the threshold when they fill the quota', () => {
  assert.deepEqual(
    picked(select(view([0.95, 0.5, 0.97, null, 0.99], { threshold: 0.95 }))),
    [2, 4],
  );
  assert.deepEqual(
    picked(select(view([0.96, 0.97, 0.98, 0.1], { threshold: 0.95, quota: 2 }))),
    [0, 1, 2],
  );
});

test('low_confidence: else the quota top by confidence, ties to the lower position', () => {
  assert.deepEqual(picked(select(view([0.3, 0.8, 0.8, 0.2], { quota: 1 }))), [1]);
  assert.deepEqual(picked(select(view([0.3, 0.8, 0.8, 0.2], { quota: 2 }))), [1, 2]);
  assert.deepEqual(picked(select(view([0.5, 0.5, 0.5, 0.5], { quota: 3 }))), [0, 1, 2]);
  assert.deepEqual(
    picked(select(view([null, 0.96, 0.5, 0.7], { quota: 2, threshold: 0.95 }))),
    [1, 3],
  );
});

test('low_confidence: quota 0 (steps > B) commits the high set only, possibly nothing', () => {
  assert.deepEqual(picked(select(view([0.5, 0.4], { quota: 0 }))), []);
  assert.deepEqual(picked(select(view([0.5, 0.99], { quota: 0 }))), [1]);
});

test('topUp adds the best unselected masked positions and drops unmasked ones', () => {
  const v = view([0.9, null, 0.3, 0.6], { quota: 2 });
  const pick = Uint8Array.from([0, 1, 0, 0]);
  assert.equal(topUp(pick, v), 2);
  assert.deepEqual(picked(pick), [0, 3]);
});
