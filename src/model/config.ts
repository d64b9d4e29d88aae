/** LLaDA2.0 (llada2_moe) config.json: the official keys, validated, with the dimensions derived from them. */
import { z } from 'zod';

export const SUPPORTED_MODEL_TYPES = ['llada2_moe'] as const;

const positiveInt = z.number().int().positive();

/** The HF config.json keys we read. Unknown keys are kept (passthrough) so packages carry the full config. */
export const Llada2ConfigSchema = z.looseObject({
  model_type: z.string(),
  hidden_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt,
  head_dim: positiveInt.optional(),
  intermediate_size: positiveInt,
  moe_intermediate_size: positiveInt,
  num_experts: positiveInt,
  num_shared_experts: z.number().int().nonnegative().default(0),
  num_experts_per_tok: positiveInt,
  n_group: positiveInt.default(1),
  topk_group: positiveInt.default(1),
  routed_scaling_factor: z.number().positive().default(1),
  first_k_dense_replace: z.number().int().nonnegative().default(0),
  norm_topk_prob: z.boolean().default(true),
  use_qk_norm: z.boolean().default(true),
  use_qkv_bias: z.boolean().default(false),
  use_bias: z.boolean().default(false),
  rope_theta: z.number().positive().default(10000),
  partial_rotary_factor: z.number().positive().max(1).default(1),
  rms_norm_eps: z.number().positive().default(1e-6),
  vocab_size: positiveInt,
  max_position_embeddings: positiveInt,
  tie_word_embeddings: z.boolean().default(false),
  eos_token_id: z.number().int().nonnegative().optional(),
  mask_token_id: z.number().int().nonnegative().optional(),
  pad_token_id: z.number().int().nonnegative().optional(),
});

export type Llada2Config = z.infer<typeof Llada2ConfigSchema>;

/** Dimensions every consumer needs, computed once from the config (docs/model-graph.md §1–3). */
export interface ModelDims {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** int(head_dim × partial_rotary_factor); a `rotary_dim` key is ignored, as in the official code. */
  rotaryDim: number;
  vocab: number;
  experts: number;
  expertsPerToken: number;
  denseLayers: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parse and validate a config.json object; throws ConfigError with one line naming the problem. */
export function parseLlada2Config(raw: unknown): Llada2Config {
  if (typeof raw !== 'object' || raw === null)
    throw new ConfigError('config.json is not a JSON object');
  const modelType = (raw as { model_type?: unknown }).model_type;
  if (!SUPPORTED_MODEL_TYPES.includes(modelType as (typeof SUPPORTED_MODEL_TYPES)[number])) {
    throw new ConfigError(
      `unsupported model_type ${JSON.stringify(modelType)} (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
    );
  }
  const parsed = Llada2ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`config.json: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const c = parsed.data;
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  if (!Number.isInteger(headDim))
    throw new ConfigError(
      'config.json: head_dim is not given and hidden_size is not divisible by num_attention_heads',
    );
  if (c.num_attention_heads % c.num_key_value_heads !== 0)
    throw new ConfigError(
      'config.json: num_attention_heads must be a multiple of num_key_value_heads',
    );
  if (c.num_experts % c.n_group !== 0)
    throw new ConfigError('config.json: num_experts must be a multiple of n_group');
  if (c.topk_group > c.n_group) throw new ConfigError('config.json: topk_group exceeds n_group');
  if (c.num_experts_per_tok > (c.num_experts / c.n_group) * c.topk_group)
    throw new ConfigError(
      'config.json: num_experts_per_tok exceeds the experts in the selected groups',
    );
  const rotary = Math.floor(headDim * c.partial_rotary_factor);
  if (rotary % 2 !== 0)
    throw new ConfigError('config.json: head_dim × partial_rotary_factor must be even');
  return { ...c, head_dim: headDim };
}

export function modelDims(c: Llada2Config): ModelDims {
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  return {
    hidden: c.hidden_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads,
    headDim,
    rotaryDim: Math.floor(headDim * c.partial_rotary_factor),
    vocab: c.vocab_size,
    experts: c.num_experts,
    expertsPerToken: c.num_experts_per_tok,
    denseLayers: Math.min(c.first_k_dense_replace, c.num_hidden_layers),
  };
}

/** Official LLaDA2.0 token ids, used when a config carries none (docs/decode-algorithm.md §1). */
export const LLADA2_DEFAULT_EOS_ID = 156892;
export const LLADA2_DEFAULT_MASK_ID = 156895;
