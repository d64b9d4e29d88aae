/**
 * Runs a prepared request and answers it: one JSON body, or an SSE stream (role chunk, content deltas as
 * blocks commit, finish chunk, optional usage chunk and denoising frames, `data: [DONE]`, comment keep-alives).
 * Chat and legacy completions differ only in their chunk shapes (the Flavor).
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { runChoice, ClientGoneError, type ChoiceResult, type DenoiseFrame } from './generation.ts';
import type { Prepared } from './prepare.ts';
import { toApiError } from '../errors.ts';
import type { Flavor } from './flavors.ts';
import type { Outcome } from './metering.ts';

export interface RespondOptions {
  flavor: Flavor;
  prepared: Prepared;
  modelId: string;
  stream: boolean;
  includeUsage: boolean;
  includeDenoising: boolean;
  keepAliveMs: number;
  headers: Record<string, string>;
  /** Called exactly once when the work ends (response sent or stream closed), for limits and metering. */
  onDone: (o: Outcome) => void;
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

export async function respond(c: Context, o: RespondOptions): Promise<Response> {
  const { prepared: p, flavor } = o;
  const id = `${flavor.idPrefix}${randomId()}`;
  const created = Math.floor(Date.now() / 1000);
  const promptTokens = p.prompts.reduce((s, x) => s + x.length, 0);
  const abort = new AbortController();
  const c0 = c.req.raw.signal;
  if (c0) c0.addEventListener('abort', () => abort.abort(), { once: true });
  const optionsFor = (seedOffset: number) => ({
    ...p.options,
    ...(p.options.seed !== undefined ? { seed: p.options.seed + seedOffset } : {}),
    signal: abort.signal,
  });
  for (const [k, v] of Object.entries(o.headers)) c.header(k, v);

  const usageOf = (completionTokens: number, cachedTokens: number) => ({
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  });

  if (!o.stream) {
    let completionTokens = 0;
    let cachedTokens = 0;
    try {
      const choices: Record<string, unknown>[] = [];
      let forwards = 0;
      for (const { index, prompt, seedOffset } of choicePlan(p)) {
        const r: ChoiceResult = await runChoice({
          model: p.model,
          promptIds: prompt,
          options: optionsFor(seedOffset),
          stops: p.stops,
        });
        completionTokens += r.completionTokens;
        cachedTokens += r.cachedPromptTokens;
        forwards += r.forwards;
        choices.push(flavor.choice(index, r.text, r.finishReason));
      }
      o.onDone({ promptTokens, completionTokens, status: 200 });
      return c.json({
        id,
        object: flavor.object,
        created,
        model: o.modelId,
        system_fingerprint: 'unmask',
        choices,
        usage: usageOf(completionTokens, cachedTokens),
        diffusion: { forwards, tokens_per_forward: forwards ? completionTokens / forwards : 0 },
      });
    } catch (e: unknown) {
      const err = e instanceof ClientGoneError ? null : toApiError(e);
      o.onDone({ promptTokens, completionTokens, status: err?.status ?? 499 });
      throw err ?? e;
    }
  }

  return streamSSE(c, async (sse) => {
    let completionTokens = 0;
    let cachedTokens = 0;
    let status = 200;
    sse.onAbort(() => abort.abort());
    const chunk = (choices: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
      sse.writeSSE({
        data: JSON.stringify({
          id,
          object: flavor.chunkObject,
          created,
          model: o.modelId,
          system_fingerprint: 'unmask',
          choices,
          ...extra,
        }),
      });
    const keepAlive = setInterval(() => {
      void sse.write(': keep-alive\n\n').catch(() => abort.abort());
    }, o.keepAliveMs);
    try {
      for (const { index, prompt, seedOffset } of choicePlan(p)) {
        await chunk([flavor.chunkChoice(index, null, null, true)]);
        const r = await runChoice({
          model: p.model,
          promptIds: prompt,
          options: optionsFor(seedOffset),
          stops: p.stops,
          onDelta: (text) => chunk([flavor.chunkChoice(index, text, null, false)]),
          onDenoise: o.includeDenoising
            ? (frame: DenoiseFrame) =>
                sse.writeSSE({ event: 'denoise', data: JSON.stringify({ id, index, ...frame }) })
            : undefined,
        });
        completionTokens += r.completionTokens;
        cachedTokens += r.cachedPromptTokens;
        await chunk([flavor.chunkChoice(index, null, r.finishReason, false)]);
      }
      if (o.includeUsage) {
        await chunk([], { usage: usageOf(completionTokens, cachedTokens) });
      }
      await sse.writeSSE({ data: '[DONE]' });
    } catch (e: unknown) {
      if (e instanceof ClientGoneError || abort.signal.aborted) {
        status = 499;
      } else {
        const err = toApiError(e);
        status = err.status;
        await sse.writeSSE({ data: JSON.stringify(err.toJSON()) }).catch(() => {});
        await sse.writeSSE({ data: '[DONE]' }).catch(() => {});
      }
    } finally {
      clearInterval(keepAlive);
      o.onDone({ promptTokens, completionTokens, status });
    }
  });
}
