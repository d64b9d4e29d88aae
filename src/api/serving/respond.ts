/**
 * Runs a prepared request and answers it: one JSON body, or an SSE stream written by the API's Wire (chat and
 * legacy completions: role chunk, content and tool-call deltas as blocks commit, finish chunk, optional usage
 * chunk and denoising chunks, `data: [DONE]`; the Responses API: its typed events), with comment keep-alives.
 * Choices run side by side (up to CONCURRENT_CHOICES), so a stream with n > 1 interleaves them by index.
 *
 * Metering: the work is settled exactly once, before the final byte is sent (so a usage record is durable by
 * then), and charges every token computed — a client that hangs up, or stops reading, is charged the committed
 * tokens of the choices it was on, with status 499, and its generations are aborted at the next forward.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { DecodeOptionsError } from '../../decode/index.ts';
import {
  runChoice,
  ClientGoneError,
  type ChoiceProgress,
  type ChoiceResult,
  type ChoiceTools,
} from './generation.ts';
import type { Prepared } from './prepare.ts';
import { ApiError, clientClosed, openAiEnvelope, toApiError } from '../errors.ts';
import { decodeOptionsApiError } from '../protocol/decode-fields.ts';
import type { Flavor, SseEvent, Usage, Wire } from './flavors.ts';
import type { Outcome } from './metering.ts';
import { SseSink } from './sse-sink.ts';

/** Choices decoded at once: enough to interleave a stream, few enough to bound one request's memory. */
export const CONCURRENT_CHOICES = 4;

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

/** Tokens computed so far: finished choices plus the committed part of the running ones. */
class Tally {
  completion = 0;
  cached = 0;
  forwards = 0;
  private readonly running = new Set<ChoiceProgress>();
  start(): ChoiceProgress {
    const progress = { completionTokens: 0 };
    this.running.add(progress);
    return progress;
  }
  finish(progress: ChoiceProgress, r: ChoiceResult) {
    this.running.delete(progress);
    this.completion += r.completionTokens;
    this.cached += r.cachedPromptTokens;
    this.forwards += r.forwards;
  }
  get charged(): number {
    let running = 0;
    for (const p of this.running) running += p.completionTokens;
    return this.completion + running;
  }
}

/** Runs `work` over the items, at most `limit` at once; the first failure rejects (the rest are abandoned). */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

export async function respond(c: Context, o: RespondOptions): Promise<Response> {
  const { prepared: p } = o;
  const id = `${o.flavor.idPrefix}${randomId()}`;
  const created = Math.floor(Date.now() / 1000);
  const wire: Wire = o.flavor.wire({
    id,
    created,
    model: o.modelId,
    includeUsage: o.includeUsage,
    codec: p.model.codec,
  });
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
    abort.abort(); // nothing may run past the settlement (a failed choice's siblings stop here)
    o.onDone({ promptTokens, completionTokens: tally.charged, status });
  };
  const failure = (e: unknown): ApiError => {
    if (e instanceof ClientGoneError || (abort.signal.aborted && !settled)) return clientClosed();
    if (e instanceof DecodeOptionsError)
      return decodeOptionsApiError(e, { promptIds: o.promptParam });
    return namingPrompt(toApiError(e), o.promptParam);
  };
  const usage = (): Usage => ({
    prompt_tokens: promptTokens,
    completion_tokens: tally.completion,
    total_tokens: promptTokens + tally.completion,
    prompt_tokens_details: { cached_tokens: tally.cached },
  });
  const diffusion = () => ({
    forwards: tally.forwards,
    tokens_per_forward: tally.forwards ? tally.completion / tally.forwards : 0,
  });
  const plan = [...choicePlan(p)];
  const results: ChoiceResult[] = [];
  const tools: ChoiceTools | null = p.tools;

  /** Decodes every choice; `send` (streaming) receives each one's events in order. */
  const runAll = (send?: (events: SseEvent[]) => Promise<void>) =>
    eachLimited(plan, CONCURRENT_CHOICES, async ({ index, prompt, seedOffset }) => {
      if (send) await send(wire.choiceStart(index));
      const progress = tally.start();
      const r = await runChoice({
        model: p.model,
        promptIds: prompt,
        options: optionsFor(seedOffset),
        stops: p.stops,
        tools,
        logprobs: p.logprobs,
        progress,
        share: c.get('tenant')?.id,
        onEvent: send ? (ev) => send(wire.output(index, ev)) : undefined,
        onDenoise:
          send && o.includeDenoising ? (frame) => send(wire.denoise(index, frame)) : undefined,
      });
      tally.finish(progress, r);
      results[index] = r;
      if (send) await send(wire.choiceEnd(index, r));
    });

  if (!o.stream) {
    try {
      await runAll();
      const body = wire.body(results, usage(), diffusion());
      settle(200);
      return c.json(body);
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
      clientSignal,
    });
    // One writer at a time: the choices' events are queued in the order they were produced.
    let queue = Promise.resolve();
    const send = (events: SseEvent[]) => {
      const written = queue.then(async () => {
        for (const ev of events) await sink.event(ev.data, ev.event);
      });
      queue = written.catch(() => {});
      return written;
    };
    try {
      await send(wire.start());
      await runAll(send);
      const closing = wire.end(usage());
      settle(200);
      await send(closing);
    } catch (e: unknown) {
      const err = failure(e);
      settle(err.status);
      if (err.status !== 499) await send(wire.error(openAiEnvelope(err))).catch(() => {});
    } finally {
      sink.close();
      settle(499);
    }
  });
}
