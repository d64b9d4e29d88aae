/**
 * The one interface between the decode loop and a model runtime. Backends implement it; the loop knows
 * nothing else about them. Row-major, batch-first flat arrays throughout, so any runtime can fill them.
 */

/** An opaque handle to K/V held by a runner, covering `length` positions per sequence. */
export interface KvState {
  readonly length: number;
  readonly batch: number;
  /** Memory it holds, when the runner knows (the prefix cache budgets by it). */
  readonly bytes?: number;
}

export interface ForwardInput {
  batch: number;
  /** New tokens per sequence in this call. */
  seq: number;
  /** int32 [batch × seq] token ids. */
  ids: Int32Array;
  /** int32 [batch × seq] absolute positions. */
  positions: Int32Array;
  /**
   * [batch × seq × (pastLength + seq)]: 1 where query i may attend key j. Keys are the past positions
   * (in cache order) followed by this call's tokens.
   */
  visibility: Uint8Array;
  /** K/V of earlier tokens, or null for none. */
  past: KvState | null;
  /** Return vocab-sized logits (only when the sampler needs the whole distribution). */
  wantLogits: boolean;
  /** Return present K/V (past + this call) for caching. */
  wantPresent: boolean;
}

export interface TopK {
  /** k per position. */
  k: number;
  /** float32 [batch × seq × k]: the largest logits, descending. */
  logits: Float32Array;
  /** float32 [batch × seq × k]: their fp32 softmax probabilities over the full vocabulary. */
  probs: Float32Array;
  /** int32 [batch × seq × k]: their token ids (ties towards the lower id). */
  ids: Int32Array;
}

export interface ForwardOutput {
  topk: TopK;
  /** float32 [batch × seq × vocab], present only when asked for. */
  logits?: Float32Array;
  /** past + this call, present only when asked for. */
  present?: KvState;
}

export interface RunnerInfo {
  vocabSize: number;
  /** k of the graph's top-k head. */
  topK: number;
  maskId: number;
  eosId: number;
  maxPositions: number;
  /** The model's trained block length (the default for requests). */
  blockLength: number;
}

export interface BlockRunner {
  readonly info: RunnerInfo;
  forward(input: ForwardInput): Promise<ForwardOutput>;
  /** K/V of the first `length` positions of `state` (used to drop a fused step's active block). */
  truncate(state: KvState, length: number): KvState;
  /**
   * Release memory held by a state the loop no longer needs. Optional. The loop releases each state it was
   * handed (every `present`, every `truncate` result) exactly once: a `present` right after truncating it, and
   * the old `past` right after the forward that extended it. States made from a released one stay valid.
   */
  release?(state: KvState): void;
}
