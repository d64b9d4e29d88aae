/**
 * @module
 * Options of the tiny random LLaDA2 checkpoint: defaults, command-line parsing, validation, and the
 * config.json they produce (official llada2_moe keys).
 */

export type TinyDtype = 'f32' | 'bf16' | 'f16';

export interface TinyModelOptions {
  out: string;
  /** Same seed and options → byte-identical files. */
  seed: number;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  experts: number;
  expertsPerTok: number;
  groups: number;
  topkGroup: number;
  sharedExperts: number;
  /** Layers [0, denseLayers) use a dense SwiGLU MLP (config first_k_dense_replace). */
  denseLayers: number;
  intermediate: number;
  moeIntermediate: number;
  vocab: number;
  rotaryFactor: number;
  ropeTheta: number;
  maxPositions: number;
  dtype: TinyDtype;
  shards: number;
  tieEmbeddings: boolean;
  qkNorm: boolean;
}

/** Two layers (dense, then MoE), small enough to generate in well under a second. */
export const DEFAULT_TINY_OPTIONS: Readonly<Omit<TinyModelOptions, 'out'>> = {
  seed: 0,
  layers: 2,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  headDim: 16,
  experts: 8,
  expertsPerTok: 2,
  groups: 4,
  topkGroup: 2,
  sharedExperts: 1,
  denseLayers: 1,
  intermediate: 128,
  moeIntermediate: 32,
  vocab: 512,
  rotaryFactor: 0.5,
  ropeTheta: 10000,
  maxPositions: 1024,
  dtype: 'f32',
  shards: 1,
  tieEmbeddings: false,
  qkNorm: true,
};

/** As in the official configs. */
export const ROUTED_SCALING_FACTOR = 2.5;

/** Special tokens occupy the last ids of the vocabulary, in this order (see tokenizer-files.ts). */
export const SPECIAL_TOKENS = [
  '<|endoftext|>',
  '<|mask|>',
  '<role>',
  '</role>',
  '<|role_end|>',
] as const;
export const BYTE_ALPHABET_SIZE = 256;

export class TinyOptionsError extends Error {
  override name = 'TinyOptionsError';
}

type NumericKey = {
  [K in keyof TinyModelOptions]: TinyModelOptions[K] extends number ? K : never;
}[keyof TinyModelOptions];

const INT_FLAGS: Record<string, NumericKey> = {
  '--seed': 'seed',
  '--layers': 'layers',
  '--hidden': 'hidden',
  '--heads': 'heads',
  '--kv-heads': 'kvHeads',
  '--head-dim': 'headDim',
  '--experts': 'experts',
  '--experts-per-tok': 'expertsPerTok',
  '--groups': 'groups',
  '--topk-group': 'topkGroup',
  '--shared-experts': 'sharedExperts',
  '--dense-layers': 'denseLayers',
  '--intermediate': 'intermediate',
  '--moe-intermediate': 'moeIntermediate',
  '--vocab': 'vocab',
  '--max-positions': 'maxPositions',
  '--shards': 'shards',
};
const FLOAT_FLAGS: Record<string, NumericKey> = {
  '--rotary-factor': 'rotaryFactor',
  '--rope-theta': 'ropeTheta',
};

/** Parse CLI arguments (without the node/script prefix); throws TinyOptionsError with one line. */
export function parseTinyArgs(argv: string[]): TinyModelOptions {
  const o: Partial<TinyModelOptions> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new TinyOptionsError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--out') o.out = value();
    else if (flag === '--dtype') {
      const v = value();
      if (v !== 'f32' && v !== 'bf16' && v !== 'f16')
        throw new TinyOptionsError(`--dtype must be f32, bf16 or f16, got ${JSON.stringify(v)}`);
      o.dtype = v;
    } else if (flag === '--tie-embeddings') o.tieEmbeddings = true;
    else if (flag === '--no-qk-norm') o.qkNorm = false;
    else if (flag in INT_FLAGS) {
      const v = value();
      if (!/^-?\d+$/.test(v))
        throw new TinyOptionsError(`${flag} must be an integer, got ${JSON.stringify(v)}`);
      o[INT_FLAGS[flag]] = Number(v);
    } else if (flag in FLOAT_FLAGS) {
      const v = value();
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n))
        throw new TinyOptionsError(`${flag} must be a number, got ${JSON.stringify(v)}`);
      o[FLOAT_FLAGS[flag]] = n;
    } else throw new TinyOptionsError(`unknown option ${JSON.stringify(arg)}`);
  }
  if (o.out === undefined) throw new TinyOptionsError('--out DIR is required');
  return resolveTinyOptions(o as Partial<TinyModelOptions> & { out: string });
}

/** Fill defaults and check that the dimensions fit together; throws TinyOptionsError with one line. */
export function resolveTinyOptions(
  partial: Partial<TinyModelOptions> & { out: string },
): TinyModelOptions {
  const o: TinyModelOptions = { ...DEFAULT_TINY_OPTIONS, ...partial };
  const fail = (msg: string): never => {
    throw new TinyOptionsError(msg);
  };
  const positive: NumericKey[] = [
    'layers',
    'hidden',
    'heads',
    'kvHeads',
    'headDim',
    'experts',
    'expertsPerTok',
    'groups',
    'topkGroup',
    'intermediate',
    'moeIntermediate',
    'vocab',
    'maxPositions',
    'shards',
  ];
  for (const k of positive)
    if (!Number.isSafeInteger(o[k]) || o[k] < 1)
      fail(`${k} must be a positive integer, got ${o[k]}`);
  for (const k of ['seed', 'sharedExperts', 'denseLayers'] as const) {
    if (!Number.isSafeInteger(o[k]) || o[k] < 0)
      fail(`${k} must be a non-negative integer, got ${o[k]}`);
  }
  if (o.heads % o.kvHeads !== 0)
    fail(`heads (${o.heads}) must be a multiple of kv-heads (${o.kvHeads})`);
  if (o.experts % o.groups !== 0)
    fail(`experts (${o.experts}) must be divisible by groups (${o.groups})`);
  // The router scores each group by the sum of its top-2 experts, so a group needs at least two.
  if (o.experts / o.groups < 2)
    fail(`each group needs at least 2 experts (experts ${o.experts}, groups ${o.groups})`);
  if (o.topkGroup > o.groups) fail(`topk-group (${o.topkGroup}) exceeds groups (${o.groups})`);
  if (o.expertsPerTok > (o.experts / o.groups) * o.topkGroup)
    fail(
      `experts-per-tok (${o.expertsPerTok}) exceeds the experts in topk-group groups (${(o.experts / o.groups) * o.topkGroup})`,
    );
  if (o.denseLayers > o.layers)
    fail(`dense-layers (${o.denseLayers}) exceeds layers (${o.layers})`);
  if (!(o.rotaryFactor > 0 && o.rotaryFactor <= 1))
    fail(`rotary-factor must be in (0, 1], got ${o.rotaryFactor}`);
  const rotary = Math.floor(o.headDim * o.rotaryFactor);
  if (rotary < 2 || rotary % 2 !== 0)
    fail(`head-dim × rotary-factor must give an even rotary size ≥ 2, got ${rotary}`);
  if (!(o.ropeTheta > 1)) fail(`rope-theta must be > 1, got ${o.ropeTheta}`);
  if (o.vocab < BYTE_ALPHABET_SIZE + SPECIAL_TOKENS.length)
    fail(
      `vocab must be at least ${BYTE_ALPHABET_SIZE + SPECIAL_TOKENS.length} (byte alphabet + special tokens), got ${o.vocab}`,
    );
  if (o.out === '') fail('--out must not be empty');
  return o;
}

export function specialTokenIds(vocab: number): Record<(typeof SPECIAL_TOKENS)[number], number> {
  const first = vocab - SPECIAL_TOKENS.length;
  return Object.fromEntries(SPECIAL_TOKENS.map((t, i) => [t, first + i])) as Record<
    (typeof SPECIAL_TOKENS)[number],
    number
  >;
}

/** config.json with the official llada2_moe keys, plus explicit eos/mask/pad ids (docs/decode-algorithm.md §1). */
export function tinyConfigJson(o: TinyModelOptions): Record<string, unknown> {
  const ids = specialTokenIds(o.vocab);
  return {
    architectures: ['LLaDA2MoeModelLM'],
    model_type: 'llada2_moe',
    hidden_size: o.hidden,
    num_hidden_layers: o.layers,
    num_attention_heads: o.heads,
    num_key_value_heads: o.kvHeads,
    head_dim: o.headDim,
    intermediate_size: o.intermediate,
    moe_intermediate_size: o.moeIntermediate,
    num_experts: o.experts,
    num_shared_experts: o.sharedExperts,
    num_experts_per_tok: o.expertsPerTok,
    n_group: o.groups,
    topk_group: o.topkGroup,
    routed_scaling_factor: ROUTED_SCALING_FACTOR,
    first_k_dense_replace: o.denseLayers,
    // Kept for fidelity; the official code renormalises the top-k weights whatever this says (spec §8).
    norm_topk_prob: true,
    score_function: 'sigmoid',
    moe_router_enable_expert_bias: true,
    router_dtype: 'fp32',
    use_qk_norm: o.qkNorm,
    use_qkv_bias: false,
    use_bias: false,
    hidden_act: 'silu',
    rope_theta: o.ropeTheta,
    partial_rotary_factor: o.rotaryFactor,
    rope_scaling: null,
    rms_norm_eps: 1e-6,
    vocab_size: o.vocab,
    max_position_embeddings: o.maxPositions,
    tie_word_embeddings: o.tieEmbeddings,
    eos_token_id: ids['<|endoftext|>'],
    pad_token_id: ids['<|endoftext|>'],
    mask_token_id: ids['<|mask|>'],
    torch_dtype: { f32: 'float32', bf16: 'bfloat16', f16: 'float16' }[o.dtype],
    use_cache: false,
  };
}
