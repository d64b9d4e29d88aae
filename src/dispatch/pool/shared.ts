/** What both pool engine kinds share: their options, the engine shape, aborted results and event reading. */
import type { DecodeResult } from '../../decode/index.ts';
import type { PoolMembers } from './members.ts';
import type { PoolRetryOptions } from './retry.ts';
import { readSse, type SseFrame } from './sse.ts';
import { RetryableError } from './retry.ts';

export interface PoolEngineOptions {
  /** The model id the API exposes. */
  id: string;
  /** The model name the pool serves. Default: `id`. */
  upstreamModel?: string;
  members: PoolMembers;
  /** GPU_POOL_SECRET, sent as `Authorization: Bearer …`. */
  secret: string;
  /** Retries before the first event (budget, attempts, backoff, connect timeout). */
  retry?: PoolRetryOptions;
  /** Longest silence on a stream, before and after its first event (comments count as activity). Default 60 000 ms. */
  idleTimeoutMs?: number;
  /** Retry budget of open() (the model description). Default 15 000 ms: open() runs before a stream starts. */
  describeBudgetMs?: number;
  /** Default "unmask". */
  ownedBy?: string;
  /** Default globalThis.fetch. */
  fetch?: typeof fetch;
}

export type { PoolEngine } from '../types.ts';

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_DESCRIBE_BUDGET_MS = 15_000;

/** The result a generation reports when the caller aborted it (the local loop reports the same). */
export function abortedResult(tokens: number[], seed: number | undefined): DecodeResult {
  return {
    tokens,
    finishReason: 'aborted',
    seed: seed ?? 0,
    stats: {
      forwards: 0,
      prefillForwards: 0,
      cachedPromptTokens: 0,
      blocks: 0,
      committedTokens: 0,
      outputTokens: tokens.length,
      tokensPerForward: 0,
      totalMs: 0,
      prefillMs: 0,
      stepsMs: 0,
      runnerMs: 0,
      loopMs: 0,
    },
  };
}

/** A frame that is not the JSON the protocol promises. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** Data frames of a response body, as one iterator that can be resumed after the first frame. */
export function frames(
  body: ReadableStream<Uint8Array>,
  idleTimeoutMs: number,
): AsyncGenerator<SseFrame> {
  return readSse(body, { idleTimeoutMs });
}

export async function nextJson(
  it: AsyncIterator<SseFrame>,
): Promise<{ frame: SseFrame; json: unknown } | null> {
  const r = await it.next();
  if (r.done) return null;
  if (r.value.data === '[DONE]') return { frame: r.value, json: null };
  try {
    return { frame: r.value, json: JSON.parse(r.value.data) };
  } catch {
    throw new ProtocolError(`malformed event: ${r.value.data.slice(0, 80)}`);
  }
}

/** Headers of a streamed POST to a member. */
export function streamHeaders(secret: string): Record<string, string> {
  return {
    authorization: `Bearer ${secret}`,
    accept: 'text/event-stream',
    'content-type': 'application/json',
  };
}

export function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * Opens a streamed response and reads its first JSON frame through `first` (which may throw to retry). Until
 * then nothing has reached the caller, so any failure closes the stream and is retryable.
 */
export async function openStream<T>(
  res: Response,
  idleTimeoutMs: number,
  first: (json: unknown) => T,
): Promise<{ first: T; it: AsyncGenerator<SseFrame> }> {
  if (!res.body) throw new RetryableError('a response without a body', 'failure');
  const it = frames(res.body, idleTimeoutMs);
  try {
    const next = await nextJson(it);
    if (!next) throw new RetryableError('the stream ended before its first event', 'failure');
    return { first: first(next.json), it };
  } catch (e: unknown) {
    await it.return(undefined).catch(() => {});
    if (e instanceof ProtocolError) throw new RetryableError(e.message, 'failure');
    throw e;
  }
}
