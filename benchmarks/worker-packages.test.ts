/** The workerd packages table: ratios are to the fp32 package wherever it is listed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodingOf, packagesTable, type PackageTimings } from './worker-packages.ts';

const timing = (medianMs: number, minMs: number) => ({
  medianMs,
  minMs,
  maxMs: medianMs,
  samplesMs: [minMs, medianMs],
});

function row(dir: string, encoding: string, fwd: [number, number], answer: [number, number]) {
  return {
    dir,
    encoding,
    packageBytes: 2048,
    loadMs: { fetch: 1, session: 2 },
    heapMiB: 16,
    forwardWall: timing(...fwd),
    forwardRunner: timing(...fwd),
    forwardsPerBlock: 32,
    answerWall: timing(...answer),
    forwardsPerAnswer: 1.5,
    accuracy: 1,
  } satisfies PackageTimings;
}

test('ratios of medians / minima to the fp32 row, even when it is not first', () => {
  const table = packagesTable([
    row('int4', 'int4 matmulnbits', [20, 12], [60, 30]),
    row('fp32', 'fp32', [10, 8], [30, 20]),
  ]).split('\n');
  assert.equal(table.length, 4);
  const cells = (line: string) => line.split('|').map((c) => c.trim());
  const header = cells(table[0]);
  const int4 = cells(table[2]);
  const fp32 = cells(table[3]);
  const col = (name: string, from = 0) => header.indexOf(name, from);
  const fwdRatio = col('×fp32 med/min');
  const answerRatio = col('×fp32 med/min', fwdRatio + 1);
  assert.equal(int4[fwdRatio], '2.00 / 1.50');
  assert.equal(int4[answerRatio], '2.00 / 1.50');
  assert.equal(fp32[fwdRatio], '1.00 / 1.00');
});

test('encoding names say the int4 layout and the kernel', () => {
  assert.equal(encodingOf({ dtype: 'fp32' }), 'fp32');
  assert.equal(encodingOf({ dtype: 'int8', kernel: 'float' }), 'int8 (float kernel)');
  assert.equal(
    encodingOf({ dtype: 'int4', int4_layout: 'dq', kernel: 'int8' }),
    'int4 dq (int8 kernel)',
  );
  assert.equal(
    encodingOf({ dtype: 'int4', int4_layout: 'matmulnbits', kernel: 'int8' }),
    'int4 matmulnbits',
  );
});
