/**
 * @module
 * The safetensors format without I/O: header parsing, float decoding, and an encoder for small files.
 * Pure code (no `node:*`), so the same reader runs in Node scripts, workerd and browsers.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON, then the data section. The JSON maps each
 * tensor name to `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the data section) and may
 * carry `__metadata__` (string → string).
 */

export type SafetensorsDtype =
  'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Dtypes decodeToFloat32 accepts. */
export const FLOAT_DTYPES: readonly string[] = ['F64', 'F32', 'F16', 'BF16'];

/** The reference implementation refuses headers over 100 MB; a larger length means a corrupt or foreign file. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

export function isSafetensorsDtype(dtype: string): dtype is SafetensorsDtype {
  return Object.hasOwn(DTYPE_BYTES, dtype);
}

/** Header length N from the first 8 bytes of a file; the header is bytes [8, 8 + N). */
export function readHeaderLength(prefix: Uint8Array): number {
  if (prefix.length < 8)
    throw new SafetensorsError(
      `file is ${prefix.length} bytes, shorter than the 8-byte header length`,
    );
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw new SafetensorsError(
      `header length ${n} exceeds ${MAX_HEADER_BYTES} bytes (not a safetensors file?)`,
    );
  return Number(n);
}

/**
 * Parse and validate the JSON header. With `dataBytes` (the size of the data section) every tensor must lie
 * inside it. Tensors need not be contiguous or ordered; each one's byte size must equal shape × dtype size.
 */
export function parseSafetensorsHeader(json: string, dataBytes?: number): SafetensorsHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new SafetensorsError(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new SafetensorsError('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
        throw new SafetensorsError('__metadata__ is not an object');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new SafetensorsError(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    tensors.set(name, parseTensorEntry(name, entry, dataBytes));
  }
  return { tensors, metadata };
}

function parseTensorEntry(name: string, entry: unknown, dataBytes: number | undefined): TensorInfo {
  const where = `tensor ${JSON.stringify(name)}`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw new SafetensorsError(`${where}: entry is not an object`);
  const {
    dtype,
    shape,
    data_offsets: offsets,
  } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string' || !isSafetensorsDtype(dtype))
    throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInt))
    throw new SafetensorsError(`${where}: shape must be an array of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
    throw new SafetensorsError(`${where}: data_offsets must be [begin, end] non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin)
    throw new SafetensorsError(`${where}: data_offsets end ${end} is before begin ${begin}`);
  const expected = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
  if (end - begin !== expected) {
    throw new SafetensorsError(
      `${where}: data_offsets span ${end - begin} bytes but ${dtype} ${JSON.stringify(shape)} needs ${expected}`,
    );
  }
  if (dataBytes !== undefined && end > dataBytes) {
    throw new SafetensorsError(
      `${where}: data ends at byte ${end} of the data section, which has only ${dataBytes} bytes (truncated file?)`,
    );
  }
  return { dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] };
}

function isNonNegativeInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Parse a whole in-memory file. `dataStart` is the byte offset of the data section in `bytes`. */
export function readSafetensors(bytes: Uint8Array): SafetensorsHeader & { dataStart: number } {
  const n = readHeaderLength(bytes);
  if (8 + n > bytes.length)
    throw new SafetensorsError(
      `header length ${n} runs past the end of the ${bytes.length}-byte file`,
    );
  const json = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  return { ...parseSafetensorsHeader(json, bytes.length - 8 - n), dataStart: 8 + n };
}

/** Bytes of one tensor inside an in-memory file parsed by readSafetensors (a view, not a copy). */
export function tensorBytes(bytes: Uint8Array, dataStart: number, info: TensorInfo): Uint8Array {
  return bytes.subarray(dataStart + info.dataOffsets[0], dataStart + info.dataOffsets[1]);
}

// ---- float conversions -------------------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Exact: every fp16 value is representable in fp32. */
export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero or subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

/** Exact: bf16 is the top half of an fp32. */
export function bfloat16BitsToFloat32(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

/** fp32 → fp16 bits, round to nearest even; overflow gives ±Infinity, NaN stays a (quiet) NaN. */
export function float32ToFloat16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit-1 mantissa right and round to nearest even.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and reaches Infinity at the top).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** fp32 → bf16 bits, round to nearest even; NaN stays a (quiet) NaN. */
export function float32ToBfloat16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff)
    return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16Table: Float32Array | undefined;

/** Decode little-endian F64/F32/F16/BF16 bytes to float32 (F64 is rounded). Other dtypes throw. */
export function decodeToFloat32(dtype: string, bytes: Uint8Array): Float32Array {
  if (!FLOAT_DTYPES.includes(dtype))
    throw new SafetensorsError(
      `unsupported dtype ${dtype} for float decoding (supported: ${FLOAT_DTYPES.join(', ')})`,
    );
  const size = DTYPE_BYTES[dtype as SafetensorsDtype];
  if (bytes.length % size !== 0)
    throw new SafetensorsError(`${bytes.length} bytes is not a whole number of ${dtype} values`);
  const n = bytes.length / size;
  // Typed-array views need aligned offsets; file slices can start anywhere, so copy only when misaligned.
  const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  if (!LITTLE_ENDIAN_HOST)
    return decodeWithDataView(dtype, new DataView(src.buffer, src.byteOffset, src.length), n);
  switch (dtype) {
    case 'F32':
      return new Float32Array(src.buffer, src.byteOffset, n).slice(); // a copy: never alias the caller's bytes
    case 'F64':
      return Float32Array.from(new Float64Array(src.buffer, src.byteOffset, n));
    case 'BF16': {
      const halves = new Uint16Array(src.buffer, src.byteOffset, n);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = halves[i] << 16;
      return new Float32Array(out.buffer);
    }
    default: {
      const table = (f16Table ??= buildF16Table());
      const halves = new Uint16Array(src.buffer, src.byteOffset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[halves[i]];
      return out;
    }
  }
}

function buildF16Table(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = float16BitsToFloat32(h);
  return t;
}

function decodeWithDataView(dtype: string, view: DataView, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(i * 4, true);
    else if (dtype === 'F64') out[i] = view.getFloat64(i * 8, true);
    else if (dtype === 'BF16') out[i] = bfloat16BitsToFloat32(view.getUint16(i * 2, true));
    else out[i] = float16BitsToFloat32(view.getUint16(i * 2, true));
  }
  return out;
}

// ---- encoder -----------------------------------------------------------------------------------------------

export interface EncodeTensor {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  /** Values in row-major order; converted to `dtype` with round-to-nearest-even. */
  data: Float32Array;
}

/**
 * Encode tensors into one safetensors file. Tensors are stored, and listed in the header, in the order given
 * (callers that want the reference's name order sort first), so equal input gives byte-identical output.
 * The header is padded with spaces to a multiple of 8 bytes, like the reference implementation.
 * Later tensors may start at offsets that are not multiples of 4; decodeToFloat32 copies, so that is safe.
 */
export function encodeSafetensors(
  tensors: EncodeTensor[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === METADATA_KEY || seen.has(t.name))
      throw new SafetensorsError(`tensor ${JSON.stringify(t.name)}: duplicate or reserved name`);
    seen.add(t.name);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new SafetensorsError(
        `tensor ${JSON.stringify(t.name)}: shape ${JSON.stringify(t.shape)} has ${count} elements, data has ${t.data.length}`,
      );
    const bytes = count * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const jsonBytesLength = new TextEncoder().encode(json).length;
  json += ' '.repeat((8 - (jsonBytesLength % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);

  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++) {
      if (t.dtype === 'F32') {
        view.setFloat32(pos, t.data[i], true);
        pos += 4;
      } else if (t.dtype === 'F16') {
        view.setUint16(pos, float32ToFloat16Bits(t.data[i]), true);
        pos += 2;
      } else {
        view.setUint16(pos, float32ToBfloat16Bits(t.data[i]), true);
        pos += 2;
      }
    }
  }
  return out;
}
