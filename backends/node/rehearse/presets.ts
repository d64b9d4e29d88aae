/**
 * Model shapes the rehearsal can build: LLaDA2.0-mini's published config.json, key for key, and a CI-sized
 * model with the same structure. `--layers N` shortens the depth; everything else stays as published.
 */
import { DEFAULT_TINY_OPTIONS, type TinyModelOptions } from '../../../src/export/tiny/options.ts';
import { tinyTensorSpecs, type TensorSpec } from '../../../src/export/tiny/weights.ts';
import {
  LLADA2_DEFAULT_EOS_ID,
  LLADA2_DEFAULT_MASK_ID,
  parseLlada2Config,
} from '../../../src/model/config.ts';

/** inclusionAI/LLaDA2.0-mini config.json (no eos/mask keys: the official ids are generate() arguments). */
export const LLADA2_MINI_CONFIG: Readonly<Record<string, unknown>> = {
  architectures: ['LLaDA2MoeModelLM'],
  attention_dropout: 0.0,
  auto_map: {
    AutoConfig: 'configuration_llada2_moe.LLaDA2MoeConfig',
    AutoModel: 'modeling_llada2_moe.LLaDA2MoeModel',
    AutoModelForCausalLM: 'modeling_llada2_moe.LLaDA2MoeModelLM',
  },
  dtype: 'bfloat16',
  embedding_dropout: 0.0,
  first_k_dense_replace: 1,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 5120,
  max_position_embeddings: 32768,
  max_window_layers: 20,
  model_type: 'llada2_moe',
  moe_intermediate_size: 512,
  moe_router_enable_expert_bias: true,
  moe_shared_expert_intermediate_size: 512,
  n_group: 8,
  norm_head: false,
  norm_softmax: false,
  norm_topk_prob: true,
  num_attention_heads: 16,
  num_experts: 256,
  num_experts_per_tok: 8,
  num_hidden_layers: 20,
  num_key_value_heads: 4,
  num_nextn_predict_layers: 0,
  num_shared_experts: 1,
  output_dropout: 0.0,
  output_router_logits: false,
  pad_token_id: 156892,
  partial_rotary_factor: 0.5,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 600000,
  rotary_dim: 64,
  routed_scaling_factor: 2.5,
  router_dtype: 'fp32',
  score_function: 'sigmoid',
  tie_word_embeddings: false,
  topk_group: 4,
  use_bias: false,
  use_cache: false,
  use_qk_norm: true,
  use_qkv_bias: false,
  use_rmsnorm: true,
  vocab_size: 157184,
};

/** LLaDA2.0-flash: mini's structure at 32 layers, hidden 4096, 32/4 heads (for the size arithmetic; too big to rehearse here). */
export const LLADA2_FLASH_CONFIG: Readonly<Record<string, unknown>> = {
  ...LLADA2_MINI_CONFIG,
  hidden_size: 4096,
  intermediate_size: 9216,
  moe_intermediate_size: 1024,
  moe_shared_expert_intermediate_size: 1024,
  num_attention_heads: 32,
  num_hidden_layers: 32,
  max_window_layers: 32,
};

/**
 * Same structure as mini (dense first layer, grouped sigmoid routing, shared expert, partial RoPE, QK-norm,
 * untied head, official special-token ids) at widths a 2-core CI machine runs in seconds.
 */
export const LLADA2_CI_CONFIG: Readonly<Record<string, unknown>> = {
  ...LLADA2_MINI_CONFIG,
  hidden_size: 256,
  head_dim: 64,
  rotary_dim: 32,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 512,
  moe_intermediate_size: 128,
  moe_shared_expert_intermediate_size: 128,
  num_experts: 32,
  num_experts_per_tok: 4,
  num_hidden_layers: 4,
  max_window_layers: 4,
  max_position_embeddings: 4096,
};

export const PRESETS = {
  'llada2-mini': LLADA2_MINI_CONFIG,
  'llada2-ci': LLADA2_CI_CONFIG,
} as const;
export type PresetName = keyof typeof PRESETS;

/** Special tokens of the rehearsal tokenizer, at the official ids (eos 156892, mask 156895). */
export const PRESET_SPECIAL_IDS = {
  '<|endoftext|>': LLADA2_DEFAULT_EOS_ID,
  '<role>': LLADA2_DEFAULT_EOS_ID + 1,
  '</role>': LLADA2_DEFAULT_EOS_ID + 2,
  '<|mask|>': LLADA2_DEFAULT_MASK_ID,
  '<|role_end|>': LLADA2_DEFAULT_MASK_ID + 1,
} as const;

/** The preset's config.json with `layers` layers (default: as published). */
export function presetConfig(name: PresetName, layers?: number): Record<string, unknown> {
  const base = PRESETS[name];
  const config = { ...base };
  if (layers !== undefined) {
    config.num_hidden_layers = layers;
    config.max_window_layers = layers;
  }
  parseLlada2Config(config); // the exporter must accept what we write
  return config;
}

/**
 * Every tensor with its shape and init scale (the tiny model's scales: activations stay finite through any
 * depth, and next-token distributions are neither flat nor one-hot). Layer order, as the official shards.
 */
export function presetTensors(config: Record<string, unknown>): TensorSpec[] {
  const c = parseLlada2Config(config);
  const options: TinyModelOptions = {
    ...DEFAULT_TINY_OPTIONS,
    out: '',
    layers: c.num_hidden_layers,
    hidden: c.hidden_size,
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads,
    headDim: c.head_dim!,
    experts: c.num_experts,
    expertsPerTok: c.num_experts_per_tok,
    groups: c.n_group,
    topkGroup: c.topk_group,
    sharedExperts: c.num_shared_experts,
    denseLayers: c.first_k_dense_replace,
    intermediate: c.intermediate_size,
    moeIntermediate: c.moe_intermediate_size,
    vocab: c.vocab_size,
    rotaryFactor: c.partial_rotary_factor,
    ropeTheta: c.rope_theta,
    maxPositions: c.max_position_embeddings,
    dtype: 'bf16',
    tieEmbeddings: c.tie_word_embeddings,
    qkNorm: c.use_qk_norm,
  };
  return tinyTensorSpecs(options);
}

/** Parameters of a config: the sum over presetTensors. */
export function parameterCount(config: Record<string, unknown>): number {
  return presetTensors(config).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
}
