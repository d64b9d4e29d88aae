/**
 * The size of an exported package per weight dtype, computed from the config and the exporter's encodings
 * (src/export/quantize.ts, moe.ts), for dtypes a rehearsal did not export. Checked against real exports.
 */
import type { WeightDtype } from '../../../src/export/quantize.ts';
import { modelDims, parseLlada2Config } from '../../../src/model/config.ts';

/** The graph (about 10 KB a layer), the tokenizer (the rehearsal's: 76 KB) and config: measured on exports. */
const FIXED_OVERHEAD_BYTES = 80_000;
const PER_LAYER_OVERHEAD_BYTES = 10_000;

/** Bytes of a linear layer W[out, in] in the package (default int4 layout 'dq', block 32). */
export function linearBytes(out: number, inn: number, dtype: WeightDtype, block = 32): number {
  if (dtype === 'fp32') return 4 * out * inn;
  if (dtype === 'fp16' || (dtype === 'int4' && inn % block !== 0)) return 2 * out * inn;
  if (dtype === 'int8') return out * inn + 4 * out;
  return Math.ceil((out * inn) / 2) + 4 * (inn / block) * out;
}

/** Bytes of one MoE layer's routed experts (fc1 = gate/up interleaved [E, 2I, H], fc2 = down [E, H, I]). */
export function expertBytes(
  E: number,
  H: number,
  I: number,
  dtype: WeightDtype,
  block = 32,
): number {
  const params = E * 3 * I * H;
  if (dtype === 'fp32') return 4 * params;
  if (dtype === 'fp16') return 2 * params;
  if (dtype === 'int8') return params + 4 * E * (2 * I + H);
  const blockwise = H % block === 0 && I % block === 0;
  return params / 2 + 4 * (blockwise ? params / block : E * (2 * I + H));
}

export function estimatePackageBytes(
  raw: Record<string, unknown>,
  dtype: WeightDtype,
  block = 32,
): number {
  const c = parseLlada2Config(raw);
  const d = modelDims(c);
  const H = d.hidden;
  const linear = (out: number, inn: number) => linearBytes(out, inn, dtype, block);
  let bytes = FIXED_OVERHEAD_BYTES + PER_LAYER_OVERHEAD_BYTES * d.layers;
  bytes += (dtype === 'fp32' ? 4 : 2) * d.vocab * H; // embeddings (fp16 unless fp32)
  bytes += 2 * 4 * c.max_position_embeddings * (d.rotaryDim / 2); // RoPE cos/sin tables
  for (let l = 0; l < d.layers; l++) {
    bytes += 4 * (2 * H + (c.use_qk_norm ? 2 * d.headDim : 0));
    bytes += linear((d.heads + 2 * d.kvHeads) * d.headDim, H) + linear(H, d.heads * d.headDim);
    if (l < d.denseLayers) {
      bytes += 2 * linear(c.intermediate_size, H) + linear(H, c.intermediate_size);
      continue;
    }
    const I = c.moe_intermediate_size;
    bytes += 4 * d.experts * H + 4 * d.experts; // router (fp32) and expert bias
    bytes += expertBytes(d.experts, H, I, dtype, block);
    const shared = I * c.num_shared_experts;
    if (shared > 0) bytes += 2 * linear(shared, H) + linear(H, shared);
  }
  bytes += 4 * H; // final norm
  bytes += linear(d.vocab, H); // the head (a tied one is stored again, in its linear encoding)
  return Math.round(bytes);
}
