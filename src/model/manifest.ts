/** The model package manifest: everything a loader needs to know about a package, as data. */
import { z } from 'zod';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'unmask-model-package';
export const MANIFEST_FORMAT_VERSION = 1;

const TensorSpecSchema = z.object({
  name: z.string(),
  dtype: z.enum(['int32', 'bool', 'float32']),
  shape: z.array(z.union([z.number().int(), z.string()])),
});

const WeightDtypeSchema = z.enum(['fp32', 'fp16', 'int8', 'int4']);

export const PackageFileSchema = z.object({
  /** Path relative to the package root, forward slashes. */
  path: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** What the file is for: the graph, its external weights, or the tokenizer. */
  role: z.enum(['graph', 'weights', 'tokenizer', 'tokenizer_config', 'config', 'other']),
});

export const ManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  format_version: z.number().int(),
  name: z.string(),
  architecture: z.literal('llada2_moe'),
  /** The checkpoint's config.json, as read. */
  config: z.record(z.string(), z.unknown()),
  tokens: z.object({
    mask_id: z.number().int().nonnegative(),
    eos_id: z.number().int().nonnegative(),
    vocab_size: z.number().int().positive(),
  }),
  decode: z.object({
    block_length: z.number().int().positive(),
    max_positions: z.number().int().positive(),
  }),
  quantization: z.object({
    /** The linear layers' weights (attention, dense and shared MLPs, experts). */
    dtype: WeightDtypeSchema,
    /** int4 only: MatMulNBits (int4 in memory, slow in WASM) or DequantizeLinear (re-encoded at load). */
    int4_layout: z.enum(['matmulnbits', 'dq']).optional(),
    block_size: z.number().int().positive().optional(),
    /**
     * int8 / int4-dq: 'int8' runs int8 kernels (DynamicQuantizeMatMul, QMoE 8-bit; int4 re-quantized to int8 at
     * load); 'float' dequantizes the weights to fp32 at load. Absent in packages written before it existed.
     */
    kernel: z.enum(['int8', 'float']).optional(),
    /** int4 block scales chosen by a per-block squared-error search rather than plain absmax. */
    scale_search: z.boolean().optional(),
    /** The token embedding table; absent: fp32 for fp32 packages, fp16 otherwise. */
    embeddings: z.enum(['fp32', 'fp16', 'int8']).optional(),
    /** The output head; absent: `dtype`. */
    lm_head: WeightDtypeSchema.optional(),
  }),
  /** How MoE layers compute: ORT's sparse MoE kernel (selected experts only) or all experts, densely. */
  moe: z.object({ implementation: z.enum(['ort-moe', 'dense', 'none']) }),
  graph: z.object({
    file: z.string(),
    external_data: z.array(z.string()),
    opset: z.number().int(),
    topk: z.number().int().positive(),
    layers: z.number().int().positive(),
    kv_heads: z.number().int().positive(),
    head_dim: z.number().int().positive(),
    inputs: z.array(TensorSpecSchema),
    outputs: z.array(TensorSpecSchema),
    /** Session options a loader must apply (e.g. disable_quant_qdq for the folded int4 layout). */
    session_config: z.record(z.string(), z.string()).default({}),
  }),
  tokenizer: z.object({ file: z.string(), config_file: z.string() }),
  files: z.array(PackageFileSchema).min(1),
  created_by: z.string(),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type PackageFile = z.infer<typeof PackageFileSchema>;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** Validate a parsed manifest.json; throws ManifestError naming the first problem. */
export function parseManifest(raw: unknown): Manifest {
  if (typeof raw === 'object' && raw !== null) {
    const r = raw as { format?: unknown; format_version?: unknown };
    if (r.format !== MANIFEST_FORMAT)
      throw new ManifestError(
        `manifest.json: not an Unmask model package (format ${JSON.stringify(r.format)})`,
      );
    if (r.format_version !== MANIFEST_FORMAT_VERSION) {
      throw new ManifestError(
        `manifest.json: unsupported format_version ${JSON.stringify(r.format_version)} (this build reads ${MANIFEST_FORMAT_VERSION})`,
      );
    }
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ManifestError(`manifest.json: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}
