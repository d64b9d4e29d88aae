/** The plug-in contract for commit rules: given one denoising step's candidates, pick the positions to commit. */

/** The distributions the forward returned for the active block's rows (row i = block position i). */
export interface StepDistributions {
  /** k of the runner's top-k head. */
  readonly k: number;
  /** float32 [size × k]: full-vocabulary fp32 softmax probabilities at T = 1, descending. */
  readonly probs: Float32Array;
  /** int32 [size × k]: their token ids. */
  readonly ids: Int32Array;
  readonly vocabSize: number;
  /** float32 [size × vocab], only when the sampler or the algorithm asked for logits. */
  readonly logits?: Float32Array;
}

/** One denoising step of the active block, as the algorithm sees it. Offsets are 0 .. size-1 in the block. */
export interface StepView {
  readonly block: number;
  /** k, 0-based, within the block. */
  readonly step: number;
  /** Absolute canvas position of offset 0. */
  readonly start: number;
  /** B. */
  readonly size: number;
  /** 1 where the canvas still holds the mask id. */
  readonly masked: Uint8Array;
  readonly maskedCount: number;
  /** The sampled token per offset (meaningful where masked). */
  readonly tokens: Int32Array;
  /** Its probability where masked; -Infinity elsewhere (spec §1.3 step 4). */
  readonly conf: Float64Array;
  /** min(schedule[k], maskedCount): the loop tops a selection up to this many, by confidence. */
  readonly quota: number;
  /** The request's confidence threshold. */
  readonly threshold: number;
  readonly dist: StepDistributions;
}

/** A configured algorithm for one generation. Stateless across steps (none of the current rules needs state). */
export interface DecodeAlgorithm {
  readonly name: string;
  /** True when `select` reads `view.dist.logits`: the loop then asks the runner for full logits. */
  readonly needsLogits: boolean;
  /** 1 = commit. Unmasked offsets are ignored, and the loop tops the selection up to `view.quota`. */
  select(view: StepView): Uint8Array;
}

/** Per-algorithm knobs from the request (`DecodeOptions.algorithmParams`). */
export type AlgorithmParams = Readonly<Record<string, number | boolean>>;

export interface AlgorithmFactory {
  readonly name: string;
  /** Where the rule comes from (repository and function), for docs and errors. */
  readonly source: string;
  /** Known parameter names; any other is rejected. */
  readonly params: readonly string[];
  /** Validates params (throwing DecodeOptionsError) and returns the configured algorithm. */
  create(params: AlgorithmParams): DecodeAlgorithm;
}
