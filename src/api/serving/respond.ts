/**
 * Runs a prepared request and answers it: one JSON body, or an SSE stream (role chunk, content deltas as
 * blocks commit, finish chunk, optional usage chunk and denoising frames, `data: [DONE]`, comment keep-alives).
 * Chat and legacy completions differ only in their chunk shapes (the Flavor).
 *
 * Metering: the work is settled exactly once, before the final byte is sent (so a usage record is durable by
 * then), and charges every token computed — a client that hangs up, or stops reading, is charged the committed
 * tokens of the choice it was on, with status 499, and its generation is aborted at the next forward.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { DecodeOptionsError } from '../../decode/index.ts';
import {
  runChoice,
  ClientGoneError,
  type ChoiceProgress,
  type DenoiseFrame,
} from './generation.ts';
import type { Prepared } from './prepare.ts';
import { ApiError, clientClosed, toApiError } from '../errors.ts';
import { decodeOptionsApiError } from '../protocol/decode-fields.ts';
import type { Flavor } from './flavors.ts';
import type { Outcome } from './metering.ts';
import { SseSink } from './sse-sink.ts';

export interface RespondOptions {
  flavor: Flavor;
  prepared: Prepared;
  modelId: string;
  stream: boolean;
  includeUsage: boolean;
  includeDenoising: boolean;
  keepAliveMs: number;
  /** A stream whose client accepts no data for this long is ended as gone (499), so it cannot hold its slot. */
  stallTimeoutMs: number;
  headers: Record<string, string>;
  /** The request field that carries the prompt, for errors raised while decoding. */
  promptParam: string;
  /** Called exactly once when the work ends (before the last byte), for limits and metering. */
  onDone: (o: Outcome) => void;
}

/** Backends (a GPU pool) name the prompt as they received it: the client sent `promptParam`. */
const PROMPT_NAMES = new Set(['prompt', 'prompt_ids', 'messages']);
function namingPrompt(err: ApiError, promptParam: string): ApiError {
  if (err.param === null || !PROMPT_NAMES.has(err.param) || err.param === promptParam) return err;
  return new ApiError(err.status, err.type, err.message, {
    param: promptParam,
    code: err.code,
    headers: err.headers,
    cause: err,
  });
}

const randomId = () => crypto.randomUUID().replace(/-/g, '').slice(0, 24);

/** Each (prompt, n) pair is one choice, numbered prompt-major like OpenAI. */
function* choicePlan(
  p: Prepared,
): Generator<{ index: number; prompt: number[]; seedOffset: number }> {
  let index = 0;
  for (const prompt of p.prompts)
    for (let k = 0; k < p.n; k++) yield { index: index++, prompt, seedOffset: k };
}

/** Tokens computed so far: finished choices plus the committed part of the current one. */
class Tally {
  completion = 0;
  cached = 0;
  forwards = 0;
  readonly current: ChoiceProgress = { completionTokens: 0 };
  finish(r: { completionTokens: number; cachedPromptTokens: number; forwards: number }) {
    this.completion += r.completionTokens;
    this.cached += r.cachedPromptTokens;
    this.forwards += r.forwards;
    this.current.completionTokens = 0;
  }
  get charged(): number {
    return this.completion + this.current.completionTokens;
  }
}

export async function respond(c: Context, o: RespondOptions): Promise<Response> {
  const { prepared: p, flavor } = o;
  const id = `${flavor.idPrefix}${randomId()}`;
  const created = Math.floor(Date.now() / 1000);
  const promptTokens = p.prompts.reduce((s, x) => s + x.length, 0);
  const abort = new AbortController();
  const clientSignal = c.req.raw.signal;
  if (clientSignal?.aborted) abort.abort();
  else clientSignal?.addEventListener('abort', () => abort.abort(), { once: true });
  const optionsFor = (seedOffset: number) => ({
    ...p.options,
    ...(p.options.seed !== undefined ? { seed: p.options.seed + seedOffset } : {}),
    signal: abort.signal,
  });
  for (const [k, v] of Object.entries(o.headers)) c.header(k, v);
  const tally = new Tally();
  let settled = false;
  const settle = (status: number) => {
    if (settled) return;
    settled = true;
    o.onDone({ promptTokens, completionTokens: tally.charged, status });
  };
  const failure = (e: unknown): ApiError => {
    if (e instanceof ClientGoneError || abort.signal.aborted) return clientClosed();
    if (e instanceof DecodeOptionsError)
      return decodeOptionsApiError(e, { promptIds: o.promptParam });
    return namingPrompt(toApiError(e), o.promptParam);
  };
  const usage = () => ({
    prompt_tokens: promptTokens,
    completion_tokens: tally.completion,
    total_tokens: promptTokens + tally.completion,
    prompt_tokens_details: { cached_tokens: tally.cached },
  });

  if (!o.stream) {
    try {
      const choices: Record<string, unknown>[] = [];
      for (const { index, prompt, seedOffset } of choicePlan(p)) {
        const r = await runChoice({
          model: p.model,
          promptIds: prompt,
          options: optionsFor(seedOffset),
          stops: p.stops,
          progress: tally.current,
        });
        tally.finish(r);
        choices.push(flavor.choice(index, r.text, r.finishReason));
      }
      settle(200);
      return c.json({
        id,
        object: flavor.object,
        created,
        model: o.modelId,
        system_fingerprint: 'unmask',
        choices,
        usage: usage(),
        diffusion: {
          forwards: tally.forwards,
          tokens_per_forward: tally.forwards ? tally.completion / tally.forwards : 0,
        },
      });
    } catch (e: unknown) {
      const err = failure(e);
      settle(err.status);
      throw err;
    }
  }

  return streamSSE(c, async (sse) => {
    const sink = new SseSink(sse, {
      keepAliveMs: o.keepAliveMs,
      stallTimeoutMs: o.stallTimeoutMs,
      onGone: () => abort.abort(),
    });
    const chunk = (choices: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
      sink.event(
        JSON.stringify({
          id,
          object: flavor.chunkObject,
          created,
          model: o.modelId,
          system_fingerprint: 'unmask',
          choices,
          ...extra,
        }),
      );
    try {
      for (const { index, prompt, seedOffset } of choicePlan(p)) {
        await chunk([flavor.chunkChoice(index, null, null, true)]);
        const r = await runChoice({
          model: p.model,
          promptIds: prompt,
          options: optionsFor(seedOffset),
          stops: p.stops,
          progress: tally.current,
          onDelta: (text) => chunk([flavor.chunkChoice(index, text, null, false)]),
          onDenoise: o.includeDenoising
            ? (frame: DenoiseFrame) =>
                sink.event(JSON.stringify({ id, index, ...frame }), 'denoise')
            : undefined,
        });
        tally.finish(r);
        await chunk([flavor.chunkChoice(index, null, r.finishReason, false)]);
      }
      if (o.includeUsage) await chunk([], { usage: usage() });
      settle(200);
      await sink.event('[DONE]');
    } catch (e: unknown) {
      const err = failure(e);
      settle(err.status);
      if (err.status !== 499) {
        await sink.event(JSON.stringify(err.toJSON())).catch(() => {});
        await sink.event('[DONE]').catch(() => {});
      }
    } finally {
      sink.close();
      settle(499);
    }
  });
}
