/**
 * Linear-layer weight encodings. All take the HF layout W[out, in] and emit y = x · Wᵀ.
 * - fp32; fp16 (Cast folded to fp32 at load).
 * - int8 per output channel, int4 block-wise along `in`. How they compute is the `kernel`:
 *   'int8': the integer GEMM (MatMulInteger) on 8-bit weights and 8-bit activations quantized per token (see
 *   int8MatMul); int4 weights are re-quantized to 8 bits per channel by DequantizeLinear → QuantizeLinear,
 *   folded at load (session.disable_quant_qdq), so the package is int4-small and the session runs 8-bit.
 *   'float': DequantizeLinear → MatMul folded to fp32 at load (weight-only quantization, fp32 speed and heap).
 * - int4 'matmulnbits': com.microsoft MatMulNBits (int4 stays int4 in memory; slow in WASM).
 */
import { float32ToFloat16Bits } from '../model/safetensors.ts';
import { DT, MS_DOMAIN, type GraphBuilder } from './onnx-builder.ts';
import {
  packInt4,
  packUnsigned,
  quantizeBlocks,
  requantScales,
  transposed,
  type QuantizedBlocks,
} from './quant-math.ts';

export type WeightDtype = 'fp32' | 'fp16' | 'int8' | 'int4';
export type Int4Layout = 'matmulnbits' | 'dq';
export type QuantKernel = 'int8' | 'float';
export type EmbeddingDtype = 'fp32' | 'fp16' | 'int8';

export interface QuantOptions {
  dtype: WeightDtype;
  int4Layout: Int4Layout;
  blockSize: number;
  /** How int8 and int4-dq weights compute (default 'int8'). */
  kernel?: QuantKernel;
  /** Per-block MSE-optimal scales instead of plain absmax (default true). */
  scaleSearch?: boolean;
  /** The token embedding table (default: fp32 for fp32 packages, else fp16). */
  embeddings?: EmbeddingDtype;
  /** The output head's weights (default: `dtype`). */
  lmHead?: WeightDtype;
}

/**
 * Whether the graph holds DequantizeLinear/QuantizeLinear on weights, which the session must fold at load
 * (session.disable_quant_qdq = 1) instead of running them on every forward.
 */
export function foldsQuantizedWeights(q: QuantOptions): boolean {
  const kernel = q.kernel ?? 'int8';
  return [q.dtype, q.lmHead ?? q.dtype].some(
    (d) => (d === 'int8' && kernel === 'float') || (d === 'int4' && q.int4Layout === 'dq'),
  );
}

/** The embedding table's encoding for these options. */
export function embeddingDtype(q: QuantOptions): EmbeddingDtype {
  return q.embeddings ?? (q.dtype === 'fp32' ? 'fp32' : 'fp16');
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
  return transposed(w, rows, cols);
}

export function toFloat16Bytes(x: Float32Array): Uint8Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = float32ToFloat16Bits(x[i]);
  return new Uint8Array(out.buffer);
}

export const bytesOf = (a: Float32Array | Int8Array | Uint8Array) =>
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

/**
 * Rows of table[rows, cols] gathered by `ids` (any shape) → fp32 [..ids, cols]. The table arrives in blocks of
 * whole rows (`blocks`, in order) and is written block by block, so it is never whole in memory (1.3 GB of fp32
 * for LLaDA2.0-mini). fp16 is stored with a Cast (folded at load). int8 keeps the table int8 in memory (one
 * scale per row, applied after the Gather), so the heap holds a quarter of fp32; its scales are per row, so a
 * block quantizes exactly as the whole table would.
 */
export async function embeddingLookup(
  b: GraphBuilder,
  ids: string,
  name: string,
  blocks: AsyncIterable<Float32Array>,
  rows: number,
  cols: number,
  dtype: EmbeddingDtype,
  scaleSearch = true,
): Promise<string> {
  const dims = [rows, cols];
  if (dtype !== 'int8') {
    const half = dtype === 'fp16';
    async function* encoded(): AsyncGenerator<Uint8Array> {
      for await (const block of blocks) yield half ? toFloat16Bytes(block) : bytesOf(block);
    }
    const stored = b.addInitializer(
      await b.sink.putStream(
        half ? `${name}.fp16` : name,
        half ? DT.FLOAT16 : DT.FLOAT,
        dims,
        encoded(),
      ),
    );
    const table = half ? b.op1('Cast', [stored], { to: DT.FLOAT }) : stored;
    return b.op1('Gather', [table, ids], { axis: 0 });
  }
  const scaleChunks: Uint8Array[] = [];
  async function* quantized(): AsyncGenerator<Uint8Array> {
    for await (const block of blocks) {
      const q = quantizeBlocks(block, block.length / cols, cols, 8, 0, scaleSearch);
      scaleChunks.push(bytesOf(q.scales));
      yield bytesOf(q.values);
    }
  }
  const values = b.addInitializer(
    await b.sink.putStream(`${name}.int8`, DT.INT8, dims, quantized()),
  );
  const scales = b.addInitializer(b.sink.put(`${name}.scale`, DT.FLOAT, [rows], scaleChunks));
  const gathered = b.op1('Cast', [b.op1('Gather', [values, ids], { axis: 0 })], { to: DT.FLOAT });
  const rowScale = b.op1('Unsqueeze', [b.op1('Gather', [scales, ids], { axis: 0 }), b.i64([-1])]);
  return b.op1('Mul', [gathered, rowScale]);
}

/** y = x · Wᵀ with W encoded per `q`. Falls back to fp16 when `in` is not a multiple of the int4 block. */
export function linear(b: GraphBuilder, x: string, w: LinearWeight, q: QuantOptions): string {
  const { dtype } = q;
  const kernel = q.kernel ?? 'int8';
  const search = q.scaleSearch ?? true;
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
  if (dtype === 'int8') {
    const qw = quantizeBlocks(w.data, w.out, w.in, 8, 0, search);
    const wt = transposed(qw.values, w.out, w.in);
    const scales = b.addInitializer(
      b.sink.put(`${w.name}.scale`, DT.FLOAT, [w.out], [bytesOf(qw.scales)]),
    );
    if (kernel === 'float') {
      const values = b.addInitializer(
        b.sink.put(`${w.name}.int8`, DT.INT8, [w.in, w.out], [bytesOf(wt)]),
      );
      return b.op1('MatMul', [x, b.op1('DequantizeLinear', [values, scales], { axis: 1 })]);
    }
    const values = b.addInitializer(
      b.sink.put(`${w.name}.u8`, DT.UINT8, [w.in, w.out], [packUnsigned(wt, 8)]),
    );
    return int8MatMul(b, x, values, scales);
  }
  const qw = quantizeBlocks(w.data, w.out, w.in, 4, q.blockSize, search);
  if (q.int4Layout === 'matmulnbits') return int4MatMulNBits(b, x, w, qw);
  const decoded = int4Dq(b, w.name, qw);
  if (kernel === 'float') return b.op1('MatMul', [x, decoded]);
  // Re-quantized per output channel to uint8 (zero point 128): QuantizeLinear on constants, folded at load.
  const scales = b.addInitializer(
    b.sink.put(`${w.name}.scale8`, DT.FLOAT, [w.out], [bytesOf(requantScales(qw))]),
  );
  const zeros = b.addInitializer(
    b.sink.put(`${w.name}.zp8`, DT.UINT8, [w.out], [new Uint8Array(w.out).fill(128)]),
  );
  return int8MatMul(b, x, b.op1('QuantizeLinear', [decoded, scales, zeros], { axis: 1 }), scales);
}

/**
 * y = x · Wᵀ on the integer GEMM: each row of x (one token) quantized to 8 bits with its own scale
 * max|x_row| / 127 (so a token's output never depends on the other tokens in the batch, and the cached and
 * reference decodes see the same numbers), times `weights` uint8 [in, out] with zero point 128 and one
 * `scales` [out] per output channel. Both operands are unsigned: MatMulInteger's u8·s8 path saturates 16-bit
 * intermediates on x86 without VNNI, u8·u8 is exact everywhere, so ORT-node and ORT-web give identical integers.
 */
function int8MatMul(b: GraphBuilder, x: string, weights: string, scales: string): string {
  const { q, scale } = rowQuantized(b, x);
  const zp = b.constant(DT.UINT8, [], [128]);
  const acc = b.op1('MatMulInteger', [q, weights, zp, zp]);
  return b.op1('Mul', [b.op1('Mul', [b.op1('Cast', [acc], { to: DT.FLOAT }), scale]), scales]);
}

const rowQuantCache = new WeakMap<GraphBuilder, Map<string, { q: string; scale: string }>>();

/** x quantized row by row to uint8 (zero point 128), and the scales [.., 1]; built once per x and graph. */
function rowQuantized(b: GraphBuilder, x: string): { q: string; scale: string } {
  let cache = rowQuantCache.get(b);
  if (!cache) rowQuantCache.set(b, (cache = new Map()));
  const hit = cache.get(x);
  if (hit) return hit;
  const absMax = b.op1('ReduceMax', [b.op1('Abs', [x]), b.i64([-1])], { keepdims: 1 });
  // The floor keeps an all-zero row finite (it quantizes to the zero point).
  const scale = b.op1('Max', [b.op1('Mul', [absMax, b.f32Scalar(1 / 127)]), b.f32Scalar(1e-30)]);
  const shifted = b.op1('Add', [b.op1('Round', [b.op1('Div', [x, scale])]), b.f32Scalar(128)]);
  const out = { q: b.op1('Cast', [shifted], { to: DT.UINT8 }), scale };
  cache.set(x, out);
  return out;
}

/** INT4 DequantizeLinear (opset 21) of Wᵀ[in, out], blocked along `in` (axis 0): the fp32 matrix, folded at load. */
function int4Dq(b: GraphBuilder, name: string, q: QuantizedBlocks): string {
  const { rows: out, cols: inn, block } = q;
  const nb = inn / block;
  const values = b.addInitializer(
    b.sink.put(`${name}.int4`, DT.INT4, [inn, out], [packInt4(transposed(q.values, out, inn))]),
  );
  const scales = b.addInitializer(
    b.sink.put(`${name}.scale`, DT.FLOAT, [nb, out], [bytesOf(transposed(q.scales, out, nb))]),
  );
  return b.op1('DequantizeLinear', [values, scales], { axis: 0, block_size: block });
}

/** com.microsoft MatMulNBits: B uint8 [N, K/block, block/2] (low nibble = even k), implicit zero point 8. */
function int4MatMulNBits(b: GraphBuilder, x: string, w: LinearWeight, q: QuantizedBlocks): string {
  const nb = w.in / q.block;
  const packed = b.addInitializer(
    b.sink.put(`${w.name}.q4`, DT.UINT8, [w.out, nb, q.block / 2], [packUnsigned(q.values, 4)]),
  );
  const scales = b.addInitializer(
    b.sink.put(`${w.name}.scales`, DT.FLOAT, [w.out * nb], [bytesOf(q.scales)]),
  );
  // accuracy_level 0: fp32 activations, so ORT-node and ORT-web agree (docs/model-graph.md §6).
  return b.op1(
    'MatMulNBits',
    [x, packed, scales],
    { K: w.in, N: w.out, bits: 4, block_size: q.block, accuracy_level: 0 },
    MS_DOMAIN,
  );
}
