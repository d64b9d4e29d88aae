/** What `decode()` yields: denoising steps, finished blocks, and one final result. */

/** 'stop': the output ends with EOS. 'length': maxTokens reached (or the canvas ended). 'aborted': the signal fired. */
export type FinishReason = 'stop' | 'length' | 'aborted';

export interface DecodeStats {
  /** NFE: every runner.forward call, prefill included. */
  forwards: number;
  /** The cached mode's one prompt prefill (0 or 1; 0 when the prefix cache held the whole prompt prefix). */
  prefillForwards: number;
  /** Prompt positions whose K/V came from the prefix cache instead of a prefill. */
  cachedPromptTokens: number;
  /** Blocks that ran at least one denoising step. */
  blocks: number;
  /** Positions committed by denoising steps (the canvas tail past maxTokens included). */
  committedTokens: number;
  /** Tokens in the result. */
  outputTokens: number;
  /** committedTokens / forwards (0 when no forward ran). */
  tokensPerForward: number;
  /** Time the loop was running, excluding time the consumer held an event. */
  totalMs: number;
  /** The prefill phase (cached mode). */
  prefillMs: number;
  /** Everything after the prefill: denoising steps and their forwards. */
  stepsMs: number;
  /** Inside runner.forward (prefill and steps). */
  runnerMs: number;
  /** totalMs − runnerMs: sampling, commit rules, visibility and bookkeeping. */
  loopMs: number;
}

export interface DecodeResult {
  /** Generated ids only (no prompt), cut after the first EOS (kept). */
  tokens: number[];
  finishReason: FinishReason;
  /** The seed the sampler used (meaningful when temperature > 0). */
  seed: number;
  stats: DecodeStats;
}

/**
 * A token's log-probability under the model at the step that committed it: ln of its probability in the
 * full-vocabulary softmax of that forward (the runner's head; before temperature, top-k and top-p), and the most
 * probable alternatives at that position and step.
 */
export interface TokenLogprob {
  logprob: number;
  top: { token: number; logprob: number }[];
}

/** One denoising step. Indices count from the first generated position (canvas position − prompt length). */
export interface StepEvent {
  type: 'step';
  block: number;
  /** 0-based step within the block. */
  step: number;
  committed: { index: number; token: number; confidence: number; logprob?: TokenLogprob }[];
  /** Indices still masked in the active block after this step. */
  masked: number[];
  /** On the generation's first step only: prompt positions whose K/V came from the prefix cache. */
  cachedPromptTokens?: number;
}

/**
 * Tokens that became final output: a block is final once it has no masks (LLaDA2.0 never edits a finished
 * block). Already cut after EOS and at maxTokens. Concatenating every block event's tokens gives the result,
 * except in one HF quirk: with eosEarlyStop and an EOS inside the prompt, the first committed EOS ends the
 * generation with an empty result (spec §8); the done event is authoritative.
 */
export interface BlockEvent {
  type: 'block';
  block: number;
  /** Index of tokens[0] in the output. */
  offset: number;
  tokens: number[];
  /** With `options.logprobs`: one entry per token. */
  logprobs?: TokenLogprob[];
}

export interface DoneEvent {
  type: 'done';
  result: DecodeResult;
}

export type DecodeEvent = StepEvent | BlockEvent | DoneEvent;
