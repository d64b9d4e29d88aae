/** Validates a request against the runner and builds the DecodePlan; throws DecodeOptionsError before any forward. */
import { createAlgorithm, DEFAULT_ALGORITHM } from './algorithms/registry.ts';
import { DecodeOptionsError, type DecodeOptionName } from './errors.ts';
import { planLayout } from './layout.ts';
import {
  DEFAULT_MAX_TOKENS,
  DEFAULT_STEPS,
  DEFAULT_THRESHOLD,
  type CandidateSource,
  type DecodeOptions,
  type DecodePlan,
} from './options.ts';
import type { RunnerInfo } from './runner.ts';

function positiveInt(param: DecodeOptionName, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0)
    throw new DecodeOptionsError(param, `must be a positive integer, got ${v}`);
  return v;
}

function inUnitInterval(param: DecodeOptionName, v: number): number {
  if (!(typeof v === 'number' && v > 0 && v <= 1))
    throw new DecodeOptionsError(param, `must be in (0, 1], got ${v}`);
  return v;
}

function checkPrompt(info: RunnerInfo, promptIds: ArrayLike<number>): Int32Array {
  const prompt = new Int32Array(promptIds.length);
  for (let i = 0; i < promptIds.length; i++) {
    const t = promptIds[i];
    if (!Number.isInteger(t) || t < 0 || t >= info.vocabSize) {
      throw new DecodeOptionsError(
        'promptIds',
        `id ${t} at ${i} is outside [0, ${info.vocabSize})`,
      );
    }
    // HF would silently decode a prompt mask inside the first decode block; refuse it instead.
    if (t === info.maskId)
      throw new DecodeOptionsError('promptIds', `the mask id ${t} appears at ${i}`);
    prompt[i] = t;
  }
  return prompt;
}

function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

/**
 * An empty prompt is allowed (HF allows it), but every position then has identical logits and the first commit
 * is decided by rounding noise: never use P = 0 for parity tests (spec §8).
 */
export function planDecode(
  info: RunnerInfo,
  promptIds: ArrayLike<number>,
  options: DecodeOptions = {},
): DecodePlan {
  const {
    blockLength = info.blockLength,
    threshold = DEFAULT_THRESHOLD,
    minimalTopk = 1,
    temperature = 0,
    topK = 0,
    topP = 1,
    eosEarlyStop = false,
    mode = 'cached',
    algorithm = DEFAULT_ALGORITHM,
    algorithmParams = {},
  } = options;
  positiveInt('blockLength', blockLength);
  const prompt = checkPrompt(info, promptIds);
  // Unset, it is HF's 2048 or whatever still fits the model's positions after the prompt, if less.
  const room = Math.floor(info.maxPositions / blockLength) * blockLength - prompt.length;
  const maxTokens = options.maxTokens ?? Math.min(DEFAULT_MAX_TOKENS, room);
  if (options.maxTokens === undefined && room <= 0) {
    throw new DecodeOptionsError(
      'promptIds',
      `the prompt (${prompt.length} tokens) leaves no room in the model's ${info.maxPositions} positions`,
      { reason: 'context_length' },
    );
  }
  const steps = options.steps ?? DEFAULT_STEPS;
  positiveInt('maxTokens', maxTokens);
  positiveInt('steps', steps);
  positiveInt('minimalTopk', minimalTopk);
  inUnitInterval('threshold', threshold);
  inUnitInterval('topP', topP);
  if (!(Number.isFinite(temperature) && temperature >= 0)) {
    throw new DecodeOptionsError('temperature', `must be a finite number >= 0, got ${temperature}`);
  }
  if (!Number.isSafeInteger(topK) || topK < 0)
    throw new DecodeOptionsError('topK', `must be an integer >= 0, got ${topK}`);
  if (minimalTopk > maxTokens) {
    throw new DecodeOptionsError(
      'minimalTopk',
      `must not exceed the completion length (${maxTokens}): no step would remain`,
    );
  }
  if (mode !== 'reference' && mode !== 'cached') {
    throw new DecodeOptionsError('mode', `must be "reference" or "cached", got ${String(mode)}`);
  }
  const seed = options.seed ?? randomSeed();
  if (!Number.isSafeInteger(seed))
    throw new DecodeOptionsError('seed', `must be a safe integer, got ${seed}`);
  const layout = planLayout(prompt.length, maxTokens, blockLength, steps, minimalTopk);
  if (layout.canvasLength > info.maxPositions) {
    throw new DecodeOptionsError(
      'maxTokens',
      `the prompt (${prompt.length} tokens) and ${maxTokens} completion tokens, padded to blocks of ` +
        `${blockLength}, need ${layout.canvasLength} positions, over the model's ${info.maxPositions}`,
      { reason: 'context_length' },
    );
  }
  const logprobs = options.logprobs ?? null;
  if (
    logprobs !== null &&
    !(Number.isSafeInteger(logprobs) && logprobs >= 0 && logprobs <= info.topK)
  )
    throw new DecodeOptionsError(
      'logprobs',
      `must be an integer in [0, ${info.topK}] (the model's top-k head), got ${logprobs}`,
    );
  const algo = createAlgorithm(algorithm, algorithmParams);
  const constraint = options.constraint ?? null;
  if (constraint && algorithm !== DEFAULT_ALGORITHM)
    throw new DecodeOptionsError(
      'algorithm',
      `a grammar constraint commits by its own rule; use the default (${DEFAULT_ALGORITHM})`,
    );
  if (constraint && options.steps !== undefined && options.steps < blockLength)
    throw new DecodeOptionsError(
      'steps',
      `must be at least the block length (${blockLength}) with a grammar constraint: a step may commit only one token`,
    );
  // Greedy and top-k sampling within the head read only the head; anything else needs the whole distribution.
  const source: CandidateSource =
    temperature === 0 ? 'greedy' : topK > 0 && topK <= info.topK ? 'head' : 'logits';
  return {
    layout,
    prompt,
    threshold,
    sampling: { temperature, topK, topP },
    source,
    // A grammar's frontier needs the probability of whichever token it allows, possibly outside the head.
    wantLogits: source === 'logits' || algo.needsLogits || constraint !== null,
    algorithm: algo,
    eosEarlyStop,
    mode,
    seed,
    maskId: info.maskId,
    eosId: info.eosId,
    signal: options.signal,
    prefixCache: mode === 'cached' ? (options.prefixCache ?? null) : null,
    constraint,
    logprobs,
  };
}
