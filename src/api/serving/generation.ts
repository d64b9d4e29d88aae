/** Runs one choice through a model: decode events → text deltas (stop-aware) and optional denoising frames. */
import type { DecodeOptions, StepEvent } from '../../decode/index.ts';
import type { OpenModel } from '../engine.ts';
import { TextStream } from './text-stream.ts';

export interface DenoiseFrame {
  block: number;
  step: number;
  committed: { index: number; token: number; text: string }[];
  masked: number[];
}

export interface ChoiceRequest {
  model: OpenModel;
  promptIds: number[];
  options: DecodeOptions;
  stops: string[];
  onDelta?: (text: string) => Promise<void> | void;
  onDenoise?: (frame: DenoiseFrame) => Promise<void> | void;
}

export interface ChoiceResult {
  text: string;
  completionTokens: number;
  finishReason: 'stop' | 'length';
  forwards: number;
  tokensPerForward: number;
  seed: number;
  /** Prompt positions served from the prefix cache (reported with the first step). */
  cachedPromptTokens: number;
}

export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

export async function runChoice(req: ChoiceRequest): Promise<ChoiceResult> {
  const { model, options } = req;
  const text = new TextStream(model.codec, req.stops);
  const maxTokens = options.maxTokens ?? Infinity;
  let emittedTokens = 0;
  let finish: 'stop' | 'length' = 'length';
  let forwards = 0;
  let tpf = 0;
  let seed = options.seed ?? 0;
  let cachedPromptTokens = 0;
  for await (const event of model.decode(req.promptIds, options)) {
    if (event.type === 'step' && event.cachedPromptTokens !== undefined)
      cachedPromptTokens = event.cachedPromptTokens;
    if (event.type === 'step' && req.onDenoise) await req.onDenoise(denoiseFrame(model, event));
    if (event.type === 'block') {
      // eos_early_stop may run past max_tokens inside the last block (HF quirk): the API clips it.
      const tokens = event.tokens.slice(0, Math.max(0, maxTokens - emittedTokens));
      emittedTokens += tokens.length;
      const { delta, stopped } = text.push(tokens);
      if (delta && req.onDelta) await req.onDelta(delta);
      // Leaving the loop ends the generator: no further forward runs.
      if (stopped) {
        finish = 'stop';
        break;
      }
    }
    if (event.type === 'done') {
      if (event.result.finishReason === 'aborted') throw new ClientGoneError('generation aborted');
      finish = event.result.finishReason === 'stop' ? 'stop' : 'length';
      forwards = event.result.stats.forwards;
      tpf = event.result.stats.tokensPerForward;
      seed = event.result.seed;
      cachedPromptTokens = event.result.stats.cachedPromptTokens ?? cachedPromptTokens;
    }
  }
  const tail = text.finish();
  if (tail && req.onDelta) await req.onDelta(tail);
  return {
    text: text.text,
    completionTokens: text.completionTokens(),
    finishReason: finish,
    forwards,
    tokensPerForward: tpf,
    seed,
    cachedPromptTokens,
  };
}

function denoiseFrame(model: OpenModel, e: StepEvent): DenoiseFrame {
  return {
    block: e.block,
    step: e.step,
    committed: e.committed.map((c) => ({
      index: c.index,
      token: c.token,
      text: model.codec.decode([c.token], { skipSpecialTokens: false }),
    })),
    masked: e.masked,
  };
}
