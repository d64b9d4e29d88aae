import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ForwardInput, ForwardOutput } from '../../../src/decode/runner.ts';
import { blockCausalVisibility } from '../../../src/decode/visibility.ts';
import { OrtKvState } from '../../../src/ort/session-runner.ts';
import { packForwards, unpackForward } from './pack.ts';

const geo = { layers: 1, kvHeads: 2, headDim: 1 };

/** K/V whose value encodes (head, position) so padding and order are visible: 100·(h+1) + pos. */
function kv(length: number, base = 0): OrtKvState {
  const a = Float32Array.from(
    { length: 2 * length },
    (_, i) => base + 100 * (Math.floor(i / length) + 1) + (i % length),
  );
  return new OrtKvState(1, length, [a], [a.map((x) => -x)]);
}

function input(past: number, seq: number, B = 4): ForwardInput {
  return {
    batch: 1,
    seq,
    ids: Int32Array.from({ length: seq }, (_, i) => 10 + past + i),
    positions: Int32Array.from({ length: seq }, (_, i) => past + i),
    visibility: blockCausalVisibility(past, past, seq, B),
    past: past ? kv(past) : null,
    wantLogits: false,
    wantPresent: true,
  };
}

test('pasts are right-padded with hidden zero keys; shorter seqs get dummy rows that see nothing', () => {
  const a = input(4, 4);
  const b = input(8, 8);
  const packed = packForwards([a, b], geo);
  const { input: x } = packed;
  assert.equal(x.batch, 2);
  assert.equal(x.seq, 8);
  assert.equal(x.past!.length, 8);
  assert.equal(packed.paddedKeys, 4);
  assert.equal(packed.paddedQueries, 4);
  assert.deepEqual([...x.ids.subarray(0, 8)], [14, 15, 16, 17, 0, 0, 0, 0]);
  const W = 16;
  // Row 0 of a: past keys 0..3 visible, padding 4..7 hidden, its own block (keys 8..11) visible, dummy keys hidden.
  assert.deepEqual(
    [...x.visibility.subarray(0, W)],
    [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0],
  );
  assert.ok(
    x.visibility.subarray(4 * W, 8 * W).every((v) => v === 0),
    'dummy rows see nothing',
  );
  // b's rows are its own visibility unchanged (no padding).
  assert.deepEqual([...x.visibility.subarray(8 * W, 16 * W)], [...b.visibility]);
  const keys = (x.past as OrtKvState).keys[0];
  assert.deepEqual([...keys.subarray(0, 8)], [100, 101, 102, 103, 0, 0, 0, 0]);
  assert.deepEqual([...keys.subarray(8, 16)], [200, 201, 202, 203, 0, 0, 0, 0]);
  assert.deepEqual([...keys.subarray(16, 24)], [100, 101, 102, 103, 104, 105, 106, 107]);
});

test('unpack returns each sequence its own head rows and its present without padding', () => {
  const a = input(4, 4);
  const b = input(0, 8);
  const packed = packForwards([a, b], geo);
  const k = 2;
  const T = 4 + 8;
  const head = Float32Array.from({ length: 2 * 8 * k }, (_, i) => i);
  // A fake batched present: [2, kv 2, T, 1], value 1000·row + 100·(h+1) + key.
  const pres = Float32Array.from(
    { length: 2 * 2 * T },
    (_, i) => 1000 * Math.floor(i / (2 * T)) + 100 * ((Math.floor(i / T) % 2) + 1) + (i % T),
  );
  const out: ForwardOutput = {
    topk: { k, logits: head, probs: head, ids: Int32Array.from(head) },
    present: new OrtKvState(2, T, [pres], [pres]),
  };
  const [oa, ob] = unpackForward(packed, [a, b], out, geo, 10);
  assert.deepEqual([...oa.topk.probs], [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(
    [...ob.topk.ids],
    Array.from({ length: 16 }, (_, i) => 16 + i),
  );
  const pa = oa.present as OrtKvState;
  assert.equal(pa.length, 8);
  // a: its past 0..3, then its 4 new keys at batched positions 4..7 (P = 4).
  assert.deepEqual([...pa.keys[0].subarray(0, 8)], [100, 101, 102, 103, 104, 105, 106, 107]);
  const pb = ob.present as OrtKvState;
  assert.equal(pb.length, 8);
  // b had no past: its keys start after the 4 padding keys.
  assert.deepEqual(
    [...pb.keys[0].subarray(0, 8)],
    [1104, 1105, 1106, 1107, 1108, 1109, 1110, 1111],
  );
  assert.deepEqual(
    [...pb.keys[0].subarray(8, 16)],
    [1204, 1205, 1206, 1207, 1208, 1209, 1210, 1211],
  );
});

test('refuses batched inputs', () => {
  assert.throws(() => packForwards([{ ...input(0, 4), batch: 2 }], geo), /batch-1/);
});
