/** Public API of the runtime-free decode loop. */
export { decode, generate } from './decode.ts';
export { planDecode } from './plan.ts';
export { DecodeOptionsError } from './errors.ts';
export type { DecodeOptionName, DecodeOptionsErrorReason } from './errors.ts';
export { PrefixCache, type PrefixCacheOptions, type PrefixHit } from './prefix-cache.ts';
export { DEFAULT_MAX_TOKENS, DEFAULT_STEPS, DEFAULT_THRESHOLD } from './options.ts';
export type { CandidateSource, DecodeMode, DecodeOptions, DecodePlan } from './options.ts';
export type {
  BlockEvent,
  DecodeEvent,
  DecodeResult,
  DecodeStats,
  DoneEvent,
  FinishReason,
  StepEvent,
  TokenLogprob,
} from './events.ts';
export { planLayout, transferSchedule } from './layout.ts';
export { allows } from './constraint.ts';
export type { ConstraintSource, TokenConstraint } from './constraint.ts';
export type { CanvasLayout } from './layout.ts';
export { blockCausalVisibility } from './visibility.ts';
export { Xoshiro128 } from './prng.ts';
export { RowSampler } from './sampling.ts';
export type { Pick, SamplingParams } from './sampling.ts';
export {
  ALGORITHMS,
  DEFAULT_ALGORITHM,
  algorithmNames,
  createAlgorithm,
} from './algorithms/registry.ts';
export type {
  AlgorithmFactory,
  AlgorithmParams,
  DecodeAlgorithm,
  StepDistributions,
  StepView,
} from './algorithms/types.ts';
export type {
  BlockRunner,
  ForwardInput,
  ForwardOutput,
  KvState,
  RunnerInfo,
  TopK,
} from './runner.ts';
