/**
 * Each linear-weight encoding, run alone in ORT-node, stays within its quantization error bound of x·Wᵀ:
 * |y - x·Wᵀ| ≤ Σ_k |x_k| · step(k)/2 (+ fp32 slack). A wrong packing or layout breaks the bound by far.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, DT } from './onnx-builder.ts';
import { InlineSink } from './weight-sink.ts';
import { linear, type QuantOptions } from './quantize.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

async function runLinear(
  q: QuantOptions,
  w: Float32Array,
  out: number,
  inn: number,
  x: Float32Array,
  rows: number,
): Promise<Float32Array> {
  const b = new GraphBuilder(new InlineSink());
  b.input({ name: 'x', dtype: DT.FLOAT, shape: [rows, inn] });
  b.op('Identity', [linear(b, 'x', { name: 'w', data: w, out, in: inn }, q)], {}, ['y']);
  b.output({ name: 'y', dtype: DT.FLOAT, shape: [rows, out] });
  const session = await ort.InferenceSession.create(b.encode(), {
    logSeverityLevel: 3,
    extra: { session: { disable_quant_qdq: '1' } },
  });
  const res = await session.run({ x: new ort.Tensor('float32', x, [rows, inn]) });
  return res.y.data as Float32Array;
}

const OUT = 24;
const IN = 64;
const ROWS = 5;
const rnd = seeded(42);
const W = Float32Array.from({ length: OUT * IN }, () => rnd());
const X = Float32Array.from({ length: ROWS * IN }, () => rnd());

/** Max half-step of each weight's quantization grid, per (o, k). */
function halfStep(q: QuantOptions, o: number, k: number): number {
  const row = W.subarray(o * IN, (o + 1) * IN);
  if (q.dtype === 'fp32') return 0;
  if (q.dtype === 'fp16') return Math.abs(row[k]) * 2 ** -11;
  if (q.dtype === 'int8') return Math.max(...Array.from(row, Math.abs)) / 127 / 2;
  const kb = Math.floor(k / q.blockSize);
  return (
    Math.max(...Array.from(row.subarray(kb * q.blockSize, (kb + 1) * q.blockSize), Math.abs)) /
    7 /
    2
  );
}

const CASES: QuantOptions[] = [
  { dtype: 'fp32', int4Layout: 'dq', blockSize: 32 },
  { dtype: 'fp16', int4Layout: 'dq', blockSize: 32 },
  { dtype: 'int8', int4Layout: 'dq', blockSize: 32 },
  { dtype: 'int4', int4Layout: 'dq', blockSize: 32 },
  { dtype: 'int4', int4Layout: 'matmulnbits', blockSize: 32 },
  { dtype: 'int4', int4Layout: 'matmulnbits', blockSize: 16 },
];

for (const q of CASES) {
  test(`linear ${q.dtype}${q.dtype === 'int4' ? `/${q.int4Layout}/${q.blockSize}` : ''} is within its quantization bound`, async () => {
    const y = await runLinear(q, W, OUT, IN, X, ROWS);
    let worstRatio = 0;
    for (let r = 0; r < ROWS; r++) {
      for (let o = 0; o < OUT; o++) {
        let exact = 0;
        let bound = 1e-5;
        for (let k = 0; k < IN; k++) {
          exact += X[r * IN + k] * W[o * IN + k];
          bound += Math.abs(X[r * IN + k]) * halfStep(q, o, k) * 1.0001;
        }
        const err = Math.abs(y[r * OUT + o] - exact);
        assert.ok(err <= bound, `row ${r} out ${o}: error ${err} > bound ${bound}`);
        worstRatio = Math.max(worstRatio, err / bound);
      }
    }
    // Quantized encodings must actually quantize (a silent fp32 fallback would pass the bound trivially).
    if (q.dtype === 'int4' || q.dtype === 'int8')
      assert.ok(worstRatio > 0.05, `error suspiciously small: ${worstRatio}`);
  });
}
