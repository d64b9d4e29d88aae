/** Request options for one generation, their defaults, and the validated plan the loop runs from. */
import type { AlgorithmParams, DecodeAlgorithm } from './algorithms/types.ts';
import type { ConstraintSource } from './constraint.ts';
import type { CanvasLayout } from './layout.ts';
import type { SamplingParams } from './sampling.ts';
import type { PrefixCache } from './prefix-cache.ts';

/** `reference`: HF's loop, no cache, every step re-encodes [0, W). `cached`: exact prefix K/V cache, same tokens. */
export type DecodeMode = 'reference' | 'cached';

export const DEFAULT_MAX_TOKENS = 2048;
export const DEFAULT_THRESHOLD = 0.95;
export const DEFAULT_STEPS = 32;

export interface DecodeOptions {
  /**
   * G, new tokens at most (HF `gen_length`). Default: 2048, or what fits the model's positions if less. The
   * output never exceeds it except on the `eosEarlyStop` path, which (like HF) returns up to the EOS even past G
   * inside the last block.
   */
  maxTokens?: number;
  /** B. Default: `runner.info.blockLength`. */
  blockLength?: number;
  /**
   * Denoising steps per block at most, capped at floor(maxTokens / minimalTopk). Default 32, HF's default; for
   * B <= 32 that behaves exactly like steps = B (later steps have quota 0 and the block is already done).
   */
  steps?: number;
  /** Confidence threshold in (0, 1]; commits need conf strictly above it. Default 0.95. */
  threshold?: number;
  /** HF `minimal_topk`, used only in the steps cap. Default 1. */
  minimalTopk?: number;
  /** 0 = greedy (default). */
  temperature?: number;
  /** 0 = off (default). Used only when temperature > 0. */
  topK?: number;
  /** 1 = off (default). Used only when temperature > 0. */
  topP?: number;
  /** Any safe integer. Default: a random one (reported in the result). Used only when temperature > 0. */
  seed?: number;
  /** HF `eos_early_stop`: end mid-block once a committed EOS has no masks before it. Default false. */
  eosEarlyStop?: boolean;
  /** Default 'cached'. */
  mode?: DecodeMode;
  /** Commit rule from the registry. Default 'low_confidence'. */
  algorithm?: string;
  /** Knobs of the chosen algorithm (e.g. `{ low_threshold: 0.4 }` for `hierarchy`). */
  algorithmParams?: AlgorithmParams;
  /** After abort no further forward starts; the result then has finish reason 'aborted'. */
  signal?: AbortSignal;
  /** Prompt-prefix K/V shared across requests (cached mode only; see prefix-cache.ts). */
  prefixCache?: PrefixCache;
  /**
   * A grammar the output must follow (structured output; see constrained-step.ts). It replaces the commit rule, so
   * `algorithm` must be the default, and `steps` (when set) must be at least the block length: every step commits
   * at least one token, and a block may need one step per token.
   */
  constraint?: ConstraintSource;
  /**
   * Report each output token's log-probability at the step that committed it, with this many alternatives from
   * the runner's top-k head (0 = the token's own only; at most `info.topK`). Unset: none.
   */
  logprobs?: number;
}

/** Where a step's candidate tokens come from. */
export type CandidateSource = 'greedy' | 'head' | 'logits';

/** Everything the loop needs, validated. */
export interface DecodePlan {
  readonly layout: CanvasLayout;
  readonly prompt: Int32Array;
  readonly threshold: number;
  readonly sampling: SamplingParams;
  readonly source: CandidateSource;
  /** Ask the runner for full logits (the sampler or the algorithm needs the whole distribution). */
  readonly wantLogits: boolean;
  readonly algorithm: DecodeAlgorithm;
  readonly eosEarlyStop: boolean;
  readonly mode: DecodeMode;
  readonly seed: number;
  readonly maskId: number;
  readonly eosId: number;
  readonly signal?: AbortSignal;
  readonly prefixCache: PrefixCache | null;
  readonly constraint: ConstraintSource | null;
  /** Alternatives per token log-probability, or null when none are reported. */
  readonly logprobs: number | null;
}
