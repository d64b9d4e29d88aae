/**
 * One streamed generation from a pool, for both member kinds: POST with retries until the first event (another
 * member on a busy or failed one), then the kind's own relay of the stream. Around the relay: a caller abort ends
 * with an aborted result; an error the pool reported is passed on; anything else is a disconnect. Only a broken
 * stream counts against the member (not an error event, an abort, or the caller stopping early).
 */
import type { DecodeEvent } from '../../decode/index.ts';
import { ApiError } from '../../api/errors.ts';
import { errorFromResponse, poolDisconnected } from './errors.ts';
import type { PoolMembers } from './members.ts';
import { AbortedError, classifyStatus, withRetries, type PoolRetryOptions } from './retry.ts';
import { abortedResult, describeError, openStream, streamHeaders } from './shared.ts';
import type { SseFrame } from './sse.ts';

export interface PoolStreamRequest<F> {
  members: PoolMembers;
  retry: PoolRetryOptions;
  fetch: (input: string, init: RequestInit) => Promise<Response>;
  idleTimeoutMs: number;
  secret: string;
  /** Path on the member, e.g. GENERATE_PATH. */
  path: string;
  payload: string;
  signal?: AbortSignal;
  /** Reported in an aborted result. */
  seed?: number;
  /** Reads the first JSON frame (null: [DONE]); throw RetryableError to try another member. */
  first: (json: unknown) => F;
  /**
   * The stream as decode events. `output` collects the tokens sent (for an aborted result); call `broke()` before
   * throwing for a stream cut short.
   */
  relay: (
    first: F,
    it: AsyncGenerator<SseFrame>,
    output: number[],
    broke: () => void,
  ) => AsyncGenerator<DecodeEvent>;
}

export async function* poolStream<F>(r: PoolStreamRequest<F>): AsyncGenerator<DecodeEvent> {
  const { members, signal } = r;
  const output: number[] = [];
  let attempt;
  try {
    attempt = await withRetries(members, signal, r.retry, async (member, init) => {
      const res = await r.fetch(`${member.url}${r.path}`, {
        method: 'POST',
        headers: streamHeaders(r.secret),
        body: r.payload,
        signal: init.signal,
      });
      init.connected();
      const retryable = classifyStatus(res, members.now());
      if (retryable) {
        await res.body?.cancel().catch(() => {});
        throw retryable;
      }
      if (!res.ok) throw await errorFromResponse(res);
      return openStream(res, r.idleTimeoutMs, r.first);
    });
  } catch (e: unknown) {
    if (e instanceof AbortedError || signal?.aborted) {
      yield { type: 'done', result: abortedResult(output, r.seed) };
      return;
    }
    throw e;
  }

  let broken = false;
  const { first, it } = attempt.value;
  try {
    yield* r.relay(first, it, output, () => {
      broken = true;
    });
  } catch (e: unknown) {
    if (signal?.aborted) {
      broken = false;
      yield { type: 'done', result: abortedResult(output, r.seed) };
      return;
    }
    if (e instanceof ApiError) throw e;
    broken = true;
    throw poolDisconnected(describeError(e), e);
  } finally {
    attempt.settle(!broken);
    await it.return(undefined).catch(() => {});
    attempt.controller.abort();
  }
}
