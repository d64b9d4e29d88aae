/** Block quantization: error bounds, the MSE scale search, and the bit packings ORT reads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dequantizedAt,
  packInt4,
  packUnsigned,
  quantizeBlocks,
  requantScales,
  transposed,
} from './quant-math.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

const ROWS = 12;
const COLS = 64;
const rnd = seeded(7);
// Heavy-tailed rows (a few large weights), where clipping pays off.
const W = Float32Array.from({ length: ROWS * COLS }, () => rnd() ** 3);

function blockError(w: Float32Array, bits: 4 | 8, block: number, search: boolean): number[] {
  const q = quantizeBlocks(w, ROWS, COLS, bits, block, search);
  const errs: number[] = [];
  for (let r = 0; r < ROWS; r++)
    for (let b = 0; b < COLS / q.block; b++) {
      let e = 0;
      for (let c = b * q.block; c < (b + 1) * q.block; c++)
        e += (w[r * COLS + c] - dequantizedAt(q, r, c)) ** 2;
      errs.push(e);
    }
  return errs;
}

test('8-bit ignores the search (absmax)', () => {
  const a = quantizeBlocks(W, ROWS, COLS, 8, 0, false);
  const b = quantizeBlocks(W, ROWS, COLS, 8, 0, true);
  assert.deepEqual(b.scales, a.scales);
});

for (const [bits, block] of [
  [8, 0],
  [4, 32],
  [4, 16],
] as const) {
  test(`absmax int${bits} block ${block}: every weight within half a step, values in range`, () => {
    const q = quantizeBlocks(W, ROWS, COLS, bits, block, false);
    const lim = 1 << (bits - 1);
    for (let r = 0; r < ROWS; r++)
      for (let c = 0; c < COLS; c++) {
        const v = q.values[r * COLS + c];
        assert.ok(v >= -lim && v < lim, `value ${v}`);
        const step = q.scales[r * (COLS / q.block) + Math.floor(c / q.block)];
        assert.ok(Math.abs(W[r * COLS + c] - dequantizedAt(q, r, c)) <= step / 2 + 1e-7);
      }
  });

  if (bits === 8) continue;
  test(`search int${bits} block ${block}: no block worse than absmax, the total strictly better`, () => {
    const plain = blockError(W, bits, block, false);
    const searched = blockError(W, bits, block, true);
    searched.forEach((e, i) => assert.ok(e <= plain[i] + 1e-12, `block ${i}: ${e} > ${plain[i]}`));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    assert.ok(sum(searched) < sum(plain), `${sum(searched)} vs ${sum(plain)}`);
  });
}

test('int4 search uses the -8 level for a negative extreme', () => {
  const w = Float32Array.from({ length: 32 }, (_, i) => (i === 3 ? -8 : (i % 7) - 3));
  const q = quantizeBlocks(w, 1, 32, 4, 32, true);
  assert.equal(q.values[3], -8);
  assert.equal(q.scales[0], 1);
});

test('requantScales: absmax of each decoded row / 127', () => {
  const q = quantizeBlocks(W, ROWS, COLS, 4, 16, true);
  const s = requantScales(q);
  for (let r = 0; r < ROWS; r++) {
    let m = 0;
    for (let c = 0; c < COLS; c++) m = Math.max(m, Math.abs(dequantizedAt(q, r, c)));
    assert.equal(s[r], Math.fround(m / 127));
  }
});

test('packings: INT4 two-complement low nibble first; unsigned with zero point', () => {
  assert.deepEqual([...packInt4(Int8Array.from([1, -1, -8, 7, 3]))], [0xf1, 0x78, 0x03]);
  assert.deepEqual([...packUnsigned(Int8Array.from([-8, 7, 0, -1]), 4)], [0xf0, 0x78]);
  assert.deepEqual([...packUnsigned(Int8Array.from([-128, 0, 127]), 8)], [0, 128, 255]);
  assert.deepEqual([...transposed(Int8Array.from([1, 2, 3, 4, 5, 6]), 2, 3)], [1, 4, 2, 5, 3, 6]);
});
