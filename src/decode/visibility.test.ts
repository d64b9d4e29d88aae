import { assert, test } from './testing/harness.ts';
import { blockCausalVisibility } from './visibility.ts';

function brute(pastLength: number, start: number, seq: number, B: number): Uint8Array {
  const width = pastLength + seq;
  const out = new Uint8Array(seq * width);
  for (let i = 0; i < seq; i++) {
    for (let j = 0; j < width; j++) {
      const key = j < pastLength ? j : start + (j - pastLength);
      out[i * width + j] = Math.floor(key / B) <= Math.floor((start + i) / B) ? 1 : 0;
    }
  }
  return out;
}

test('block-causal visibility equals the rule floor(j/B) <= floor(i/B)', () => {
  for (const B of [1, 3, 4, 8]) {
    for (const [past, start, seq] of [
      [0, 0, 13],
      [0, 0, 2 * B],
      [B, B, B],
      [2 * B, B * 2, 2 * B],
      [B, B, 2 * B],
      [3 * B, 3 * B, B],
    ]) {
      assert.deepEqual(
        blockCausalVisibility(past, start, seq, B),
        brute(past, start, seq, B),
        `B=${B} past=${past} start=${start} seq=${seq}`,
      );
    }
  }
});

test('a single active block behind its cache sees everything', () => {
  assert.ok(blockCausalVisibility(8, 8, 4, 4).every((v) => v === 1));
});

test('fused commit: the finished block does not see the next one', () => {
  const vis = blockCausalVisibility(4, 4, 8, 4);
  const width = 12;
  assert.deepEqual(Array.from(vis.subarray(0, width)), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(vis.subarray(4 * width, 5 * width)), new Array(12).fill(1));
});
