/**
 * Symmetric block quantization of weight matrices and the bit packings ORT's kernels read. Pure arithmetic:
 * no graph, no I/O. A matrix is W[rows, cols] row-major; blocks run along cols (the reduction axis K).
 */

export interface QuantizedBlocks {
  /** Signed integer values in [-2^(bits-1), 2^(bits-1) - 1], same layout as W. */
  values: Int8Array;
  /** One scale per (row, block): [rows, cols / block]. */
  scales: Float32Array;
  rows: number;
  cols: number;
  /** Block length along cols (cols itself for one scale per row). */
  block: number;
}

/**
 * Scale candidates tried per block by the MSE search, as fractions of max|w| / qmax. Clipping the largest
 * weights a little lowers the rounding error of all the others; 1 keeps the plain absmax scale.
 */
const SEARCH_FRACTIONS = [1, 0.97, 0.94, 0.91, 0.88, 0.85, 0.82, 0.79, 0.76, 0.73, 0.7];

/**
 * Quantizes W[rows, cols] to `bits`-bit signed integers with one fp32 scale per `block` weights of a row
 * (block 0: one per row). `search` (4-bit only: at 8 bits it lowers the error of trained weights by about 1 %, not
 * worth its cost): per block, pick the scale that minimises the squared error among
 * absmax·SEARCH_FRACTIONS and, when the largest |w| is negative, the scale that maps it onto -2^(bits-1) (the
 * one level an absmax scale never uses); off: plain absmax / (2^(bits-1) - 1).
 */
export function quantizeBlocks(
  w: Float32Array,
  rows: number,
  cols: number,
  bits: 4 | 8,
  block: number,
  search: boolean,
): QuantizedBlocks {
  const bs = block || cols;
  if (cols % bs !== 0)
    throw new RangeError(`quantizeBlocks: ${cols} columns not a multiple of ${bs}`);
  const qmax = (1 << (bits - 1)) - 1;
  const qmin = -qmax - 1;
  const nb = cols / bs;
  const values = new Int8Array(rows * cols);
  const scales = new Float32Array(rows * nb);
  const candidates: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const from = r * cols + b * bs;
      const to = from + bs;
      let amax = 0;
      let extreme = 0;
      for (let i = from; i < to; i++) {
        const a = Math.abs(w[i]);
        if (a > amax) {
          amax = a;
          extreme = w[i];
        }
      }
      let scale = amax > 0 ? Math.fround(amax / qmax) : 1;
      if (search && bits === 4 && amax > 0) {
        candidates.length = 0;
        for (const f of SEARCH_FRACTIONS) candidates.push(Math.fround((amax * f) / qmax));
        // Scales stay positive (some kernels assume it), so only a negative extreme can land on qmin.
        if (extreme < 0) candidates.push(Math.fround(extreme / qmin));
        let best = Infinity;
        for (const c of candidates) {
          let err = 0;
          for (let i = from; i < to; i++) {
            const q = Math.max(qmin, Math.min(qmax, Math.round(w[i] / c)));
            const d = w[i] - q * c;
            err += d * d;
          }
          if (err < best) {
            best = err;
            scale = c;
          }
        }
      }
      scales[r * nb + b] = scale;
      for (let i = from; i < to; i++)
        values[i] = Math.max(qmin, Math.min(qmax, Math.round(w[i] / scale)));
    }
  }
  return { values, scales, rows, cols, block: bs };
}

/** The value W[r, c] decodes to. */
export function dequantizedAt(q: QuantizedBlocks, r: number, c: number): number {
  return q.values[r * q.cols + c] * q.scales[r * (q.cols / q.block) + Math.floor(c / q.block)];
}

/**
 * Per-row scales for re-quantizing the decoded matrix to int8 (absmax / 127): what the int8 kernels run on
 * when a package stores int4 (QuantizeLinear with these scales is folded at load).
 */
export function requantScales(q: QuantizedBlocks): Float32Array {
  const out = new Float32Array(q.rows);
  for (let r = 0; r < q.rows; r++) {
    let m = 0;
    for (let c = 0; c < q.cols; c++) m = Math.max(m, Math.abs(dequantizedAt(q, r, c)));
    out[r] = m > 0 ? Math.fround(m / 127) : 1;
  }
  return out;
}

/** ONNX INT4 tensor bytes: two's-complement nibbles, element i in byte i/2, even elements in the low nibble. */
export function packInt4(values: Int8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) out[i >> 1] |= (values[i] & 0x0f) << ((i & 1) << 2);
  return out;
}

/**
 * Unsigned packing with the implicit zero point 2^(bits-1) (MatMulNBits, QMoE): element i of a row in byte
 * i / (8 / bits) at bit shift (i mod (8 / bits)) · bits.
 */
export function packUnsigned(values: Int8Array, bits: 4 | 8): Uint8Array {
  const perByte = 8 / bits;
  const zp = 1 << (bits - 1);
  const out = new Uint8Array(Math.ceil(values.length / perByte));
  for (let i = 0; i < values.length; i++)
    out[(i / perByte) | 0] |= (values[i] + zp) << ((i % perByte) * bits);
  return out;
}

/** Transposes a row-major [rows, cols] array of any element type. */
export function transposed<T extends Float32Array | Int8Array>(
  a: T,
  rows: number,
  cols: number,
): T {
  const t = new (a.constructor as new (n: number) => T)(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}
