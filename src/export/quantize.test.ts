/**
 * Each linear-weight encoding, run alone in ORT-node, reproduces its own arithmetic: y equals x · Ŵᵀ for the
 * weight-only encodings (Ŵ = the decoded quantized weights), and the integer product of the per-token 8-bit
 * activations with the 8-bit weights for the int8 kernel. A wrong packing, layout or scale breaks it by far;
 * the quantization error itself (vs the exact x · Wᵀ) must be real and within its bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, DT } from './onnx-builder.ts';
import { InlineSink } from './weight-sink.ts';
import { foldsQuantizedWeights, linear, type QuantOptions } from './quantize.ts';
import { dequantizedAt, quantizeBlocks, requantScales } from './quant-math.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

const OUT = 24;
const IN = 64;
const ROWS = 5;
const rnd = seeded(42);
const W = Float32Array.from({ length: OUT * IN }, () => rnd());
const X = Float32Array.from({ length: ROWS * IN }, () => rnd());

async function runLinear(q: QuantOptions): Promise<Float32Array> {
  const b = new GraphBuilder(new InlineSink());
  b.input({ name: 'x', dtype: DT.FLOAT, shape: [ROWS, IN] });
  b.op('Identity', [linear(b, 'x', { name: 'w', data: W, out: OUT, in: IN }, q)], {}, ['y']);
  b.output({ name: 'y', dtype: DT.FLOAT, shape: [ROWS, OUT] });
  const session = await ort.InferenceSession.create(b.encode(), {
    logSeverityLevel: 3,
    extra: { session: foldsQuantizedWeights(q) ? { disable_quant_qdq: '1' } : {} },
  });
  const res = await session.run({ x: new ort.Tensor('float32', X, [ROWS, IN]) });
  return res.y.data as Float32Array;
}

/** The decoded weight Ŵ[o, k] the encoding stores (fp16: rounded to half precision). */
function decoder(q: QuantOptions): (o: number, k: number) => number {
  const search = q.scaleSearch ?? true;
  if (q.dtype === 'fp32') return (o, k) => W[o * IN + k];
  if (q.dtype === 'fp16') {
    const h = new Float32Array(1);
    return (o, k) => {
      h[0] = W[o * IN + k];
      return roundHalf(h[0]);
    };
  }
  const qb = quantizeBlocks(
    W,
    OUT,
    IN,
    q.dtype === 'int8' ? 8 : 4,
    q.dtype === 'int8' ? 0 : q.blockSize,
    search,
  );
  return (o, k) => dequantizedAt(qb, o, k);
}

function roundHalf(x: number): number {
  const e = Math.floor(Math.log2(Math.abs(x)));
  const ulp = 2 ** (Math.max(e, -14) - 10);
  return Math.round(x / ulp) * ulp;
}

/** The int8 kernel's exact result: per-row activation codes × per-channel weight codes, then the two scales. */
function int8Reference(q: QuantOptions): Float32Array {
  const search = q.scaleSearch ?? true;
  let codes: (o: number, k: number) => number;
  let colScale: Float32Array;
  if (q.dtype === 'int8') {
    const qb = quantizeBlocks(W, OUT, IN, 8, 0, search);
    codes = (o, k) => qb.values[o * IN + k];
    colScale = qb.scales;
  } else {
    const qb = quantizeBlocks(W, OUT, IN, 4, q.blockSize, search);
    colScale = requantScales(qb);
    // QuantizeLinear divides the fp32 DequantizeLinear output in fp32, rounds half to even, saturates.
    codes = (o, k) =>
      Math.max(
        -128,
        Math.min(127, roundEven(Math.fround(Math.fround(dequantizedAt(qb, o, k)) / colScale[o]))),
      );
  }
  const y = new Float32Array(ROWS * OUT);
  for (let r = 0; r < ROWS; r++) {
    let m = 0;
    for (let k = 0; k < IN; k++) m = Math.max(m, Math.abs(X[r * IN + k]));
    const s = Math.fround(m * Math.fround(1 / 127));
    for (let o = 0; o < OUT; o++) {
      let acc = 0;
      for (let k = 0; k < IN; k++) acc += roundEven(Math.fround(X[r * IN + k] / s)) * codes(o, k);
      y[r * OUT + o] = Math.fround(Math.fround(acc * s) * colScale[o]);
    }
  }
  return y;
}

function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

const base = { int4Layout: 'dq', blockSize: 32 } as const;
const CASES: { name: string; q: QuantOptions; intKernel?: boolean }[] = [
  { name: 'fp32', q: { ...base, dtype: 'fp32' } },
  { name: 'fp16', q: { ...base, dtype: 'fp16' } },
  { name: 'int8 float kernel', q: { ...base, dtype: 'int8', kernel: 'float' } },
  {
    name: 'int8 absmax float kernel',
    q: { ...base, dtype: 'int8', kernel: 'float', scaleSearch: false },
  },
  { name: 'int8 int8 kernel', q: { ...base, dtype: 'int8', kernel: 'int8' }, intKernel: true },
  { name: 'int4 dq float kernel', q: { ...base, dtype: 'int4', kernel: 'float' } },
  { name: 'int4 dq int8 kernel', q: { ...base, dtype: 'int4', kernel: 'int8' }, intKernel: true },
  {
    name: 'int4 dq block 16 absmax',
    q: { ...base, dtype: 'int4', blockSize: 16, kernel: 'float', scaleSearch: false },
  },
  { name: 'int4 matmulnbits', q: { ...base, dtype: 'int4', int4Layout: 'matmulnbits' } },
  {
    name: 'int4 matmulnbits block 16',
    q: { ...base, dtype: 'int4', int4Layout: 'matmulnbits', blockSize: 16 },
  },
];

for (const c of CASES) {
  test(`linear ${c.name} computes its own quantized arithmetic`, async () => {
    const y = await runLinear(c.q);
    const dec = decoder(c.q);
    const ref = c.intKernel ? int8Reference(c.q) : new Float32Array(ROWS * OUT);
    let worstVsExact = 0;
    let magnitude = 0;
    for (let r = 0; r < ROWS; r++)
      for (let o = 0; o < OUT; o++) {
        let exact = 0;
        let decoded = 0;
        for (let k = 0; k < IN; k++) {
          exact += X[r * IN + k] * W[o * IN + k];
          decoded += X[r * IN + k] * dec(o, k);
        }
        if (!c.intKernel) ref[r * OUT + o] = decoded;
        const i = r * OUT + o;
        assert.ok(
          Math.abs(y[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])),
          `${r},${o}: ${y[i]} vs ${ref[i]}`,
        );
        worstVsExact = Math.max(worstVsExact, Math.abs(y[i] - exact));
        magnitude = Math.max(magnitude, Math.abs(exact));
      }
    // Quantized encodings must actually quantize (a silent fp32 fallback would match trivially), yet stay close.
    const rel = worstVsExact / magnitude;
    if (c.q.dtype === 'int8') assert.ok(rel > 1e-4 && rel < 0.03, `relative error ${rel}`);
    if (c.q.dtype === 'int4') assert.ok(rel > 1e-3 && rel < 0.3, `relative error ${rel}`);
  });
}
