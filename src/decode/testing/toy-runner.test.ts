import { assert, test } from './harness.ts';
import { blockCausalVisibility } from '../visibility.ts';
import { ToyRunner } from './toy-runner.ts';

const iota = (start: number, n: number): Int32Array =>
  Int32Array.from({ length: n }, (_, i) => start + i);
const ids = (n: number, salt = 0): Int32Array =>
  Int32Array.from({ length: n }, (_, i) => (i * 5 + 3 + salt) % 40);

test('toy: visibility is honoured (a hidden key cannot change a row)', async () => {
  const toy = new ToyRunner();
  const B = 4;
  const base = ids(12);
  const changed = base.slice();
  changed[10] = 7; // block 2: invisible to blocks 0 and 1
  const run = (x: Int32Array) =>
    toy.forward({
      batch: 1,
      seq: 12,
      ids: x,
      positions: iota(0, 12),
      visibility: blockCausalVisibility(0, 0, 12, B),
      past: null,
      wantLogits: true,
      wantPresent: false,
    });
  const [a, b] = [await run(base), await run(changed)];
  assert.deepEqual(a.logits?.subarray(0, 8 * 48), b.logits?.subarray(0, 8 * 48));
  assert.notDeepEqual(a.logits?.subarray(8 * 48), b.logits?.subarray(8 * 48));
});

test('toy: cached K/V give bit-identical rows to a full forward', async () => {
  const toy = new ToyRunner();
  const x = ids(12, 1);
  const full = await toy.forward({
    batch: 1,
    seq: 12,
    ids: x,
    positions: iota(0, 12),
    visibility: blockCausalVisibility(0, 0, 12, 4),
    past: null,
    wantLogits: true,
    wantPresent: false,
  });
  const pre = await toy.forward({
    batch: 1,
    seq: 8,
    ids: x.slice(0, 8),
    positions: iota(0, 8),
    visibility: blockCausalVisibility(0, 0, 8, 4),
    past: null,
    wantLogits: false,
    wantPresent: true,
  });
  const past = toy.truncate(pre.present!, 8);
  const step = await toy.forward({
    batch: 1,
    seq: 4,
    ids: x.slice(8),
    positions: iota(8, 4),
    visibility: blockCausalVisibility(8, 8, 4, 4),
    past,
    wantLogits: true,
    wantPresent: false,
  });
  assert.deepEqual(step.logits, full.logits?.subarray(8 * 48));
  assert.deepEqual(step.topk.probs, full.topk.probs.subarray(8 * 8));
  toy.release(pre.present!);
  toy.release(past);
  assert.equal(toy.live, 0);
  assert.equal(toy.forwards, 3);
});

test('toy: the head is sorted, its probs are the fp32 softmax of the logits, and the mask is never predicted', async () => {
  const toy = new ToyRunner();
  const out = await toy.forward({
    batch: 1,
    seq: 4,
    ids: ids(4),
    positions: iota(0, 4),
    visibility: blockCausalVisibility(0, 0, 4, 4),
    past: null,
    wantLogits: true,
    wantPresent: false,
  });
  for (let r = 0; r < 4; r++) {
    const row = out.logits!.subarray(r * 48, (r + 1) * 48);
    const max = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
    for (let j = 0; j < 8; j++) {
      const t = out.topk.ids[r * 8 + j];
      assert.notEqual(t, toy.info.maskId);
      assert.equal(out.topk.probs[r * 8 + j], Math.fround(Math.exp(row[t] - max) / z));
      if (j > 0) assert.ok(out.topk.logits[r * 8 + j] <= out.topk.logits[r * 8 + j - 1]);
    }
  }
});
