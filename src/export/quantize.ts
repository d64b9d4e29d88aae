/**
 * Linear-layer weight encodings: fp32, fp16 (Cast folded at load), int8 per-channel and int4 block-wise
 * (DequantizeLinear → MatMul, folded at load with disable_quant_qdq; or com.microsoft MatMulNBits).
 * All take the HF layout W[out, in] and emit y = x · Wᵀ.
 */
import { float32ToFloat16Bits } from '../model/safetensors.ts';
import { DT, MS_DOMAIN, type GraphBuilder } from './onnx-builder.ts';

export type WeightDtype = 'fp32' | 'fp16' | 'int8' | 'int4';
export type Int4Layout = 'matmulnbits' | 'dq';

export interface QuantOptions {
  dtype: WeightDtype;
  int4Layout: Int4Layout;
  blockSize: number;
}

export interface LinearWeight {
  name: string;
  /** HF layout [out, in], row-major. */
  data: Float32Array;
  out: number;
  in: number;
}

/** Transposes W[out,in] to [in,out]. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return t;
}

export function toFloat16Bytes(x: Float32Array): Uint8Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = float32ToFloat16Bits(x[i]);
  return new Uint8Array(out.buffer);
}

const bytesOf = (a: Float32Array | Int8Array | Uint8Array) =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Stores a float matrix [rows, cols] as fp32, or fp16 + Cast; returns an fp32 value name. */
export function floatMatrix(
  b: GraphBuilder,
  name: string,
  data: Float32Array,
  dims: number[],
  half: boolean,
): string {
  if (!half) return b.addInitializer(b.sink.put(name, DT.FLOAT, dims, [bytesOf(data)]));
  const h = b.addInitializer(b.sink.put(`${name}.fp16`, DT.FLOAT16, dims, [toFloat16Bytes(data)]));
  return b.op1('Cast', [h], { to: DT.FLOAT });
}

/** y = x · Wᵀ with W encoded per `q`. Falls back to fp16 when `in` is not a multiple of the int4 block. */
export function linear(b: GraphBuilder, x: string, w: LinearWeight, q: QuantOptions): string {
  const { dtype } = q;
  if (dtype === 'fp32' || dtype === 'fp16' || (dtype === 'int4' && w.in % q.blockSize !== 0)) {
    const wt = floatMatrix(
      b,
      w.name,
      transpose(w.data, w.out, w.in),
      [w.in, w.out],
      dtype !== 'fp32',
    );
    return b.op1('MatMul', [x, wt]);
  }
  if (dtype === 'int8') return b.op1('MatMul', [x, int8PerChannel(b, w)]);
  return q.int4Layout === 'dq'
    ? b.op1('MatMul', [x, int4Dq(b, w, q.blockSize)])
    : int4MatMulNBits(b, x, w, q.blockSize);
}

/** Symmetric int8 with one scale per output channel, DequantizeLinear(axis=1) over Wᵀ[in,out]. */
function int8PerChannel(b: GraphBuilder, w: LinearWeight): string {
  const scales = new Float32Array(w.out);
  const q = new Int8Array(w.in * w.out);
  for (let o = 0; o < w.out; o++) {
    let m = 0;
    for (let i = 0; i < w.in; i++) m = Math.max(m, Math.abs(w.data[o * w.in + i]));
    const s = m > 0 ? m / 127 : 1;
    scales[o] = s;
    for (let i = 0; i < w.in; i++)
      q[i * w.out + o] = Math.max(-127, Math.min(127, Math.round(w.data[o * w.in + i] / s)));
  }
  const qName = b.addInitializer(
    b.sink.put(`${w.name}.int8`, DT.INT8, [w.in, w.out], [bytesOf(q)]),
  );
  const sName = b.addInitializer(
    b.sink.put(`${w.name}.scale`, DT.FLOAT, [w.out], [bytesOf(scales)]),
  );
  return b.op1('DequantizeLinear', [qName, sName], { axis: 1 });
}

/** Per (output, K-block) symmetric scale for int4: max|w| / 7, values clamped to [-8, 7]. */
function int4Blocks(w: LinearWeight, block: number): { scales: Float32Array; values: Int8Array } {
  const nb = w.in / block;
  const scales = new Float32Array(w.out * nb);
  const values = new Int8Array(w.out * w.in);
  for (let o = 0; o < w.out; o++) {
    for (let kb = 0; kb < nb; kb++) {
      let m = 0;
      for (let k = kb * block; k < (kb + 1) * block; k++)
        m = Math.max(m, Math.abs(w.data[o * w.in + k]));
      const s = m > 0 ? m / 7 : 1;
      scales[o * nb + kb] = s;
      for (let k = kb * block; k < (kb + 1) * block; k++) {
        values[o * w.in + k] = Math.max(-8, Math.min(7, Math.round(w.data[o * w.in + k] / s)));
      }
    }
  }
  return { scales, values };
}

/** INT4 DequantizeLinear (opset 21, blocked along K = axis 0 of Wᵀ[in,out]); two values per byte, low nibble first. */
function int4Dq(b: GraphBuilder, w: LinearWeight, block: number): string {
  const { scales, values } = int4Blocks(w, block);
  const nb = w.in / block;
  const packed = new Uint8Array(Math.ceil((w.in * w.out) / 2));
  const scaleT = new Float32Array(nb * w.out);
  for (let k = 0; k < w.in; k++) {
    for (let o = 0; o < w.out; o++) {
      const idx = k * w.out + o;
      const nib = values[o * w.in + k] & 0x0f;
      packed[idx >> 1] |= idx & 1 ? nib << 4 : nib;
    }
  }
  for (let kb = 0; kb < nb; kb++)
    for (let o = 0; o < w.out; o++) scaleT[kb * w.out + o] = scales[o * nb + kb];
  const qName = b.addInitializer(b.sink.put(`${w.name}.int4`, DT.INT4, [w.in, w.out], [packed]));
  const sName = b.addInitializer(
    b.sink.put(`${w.name}.scale`, DT.FLOAT, [nb, w.out], [bytesOf(scaleT)]),
  );
  return b.op1('DequantizeLinear', [qName, sName], { axis: 0, block_size: block });
}

/** com.microsoft MatMulNBits: B uint8 [N, K/block, block/2] (low nibble = even k), implicit zero point 8. */
function int4MatMulNBits(b: GraphBuilder, x: string, w: LinearWeight, block: number): string {
  const { scales, values } = int4Blocks(w, block);
  const nb = w.in / block;
  const packed = new Uint8Array((w.out * w.in) / 2);
  for (let o = 0; o < w.out; o++) {
    for (let k = 0; k < w.in; k++) {
      const idx = o * w.in + k;
      const nib = (values[idx] + 8) & 0x0f;
      packed[idx >> 1] |= k & 1 ? nib << 4 : nib;
    }
  }
  const qName = b.addInitializer(
    b.sink.put(`${w.name}.q4`, DT.UINT8, [w.out, nb, block / 2], [packed]),
  );
  const sName = b.addInitializer(
    b.sink.put(`${w.name}.scales`, DT.FLOAT, [w.out * nb], [bytesOf(scales)]),
  );
  // accuracy_level 0: fp32 activations, so ORT-node and ORT-web agree (docs/model-graph.md §6).
  return b.op1(
    'MatMulNBits',
    [x, qName, sName],
    { K: w.in, N: w.out, bits: 4, block_size: block, accuracy_level: 0 },
    MS_DOMAIN,
  );
}
