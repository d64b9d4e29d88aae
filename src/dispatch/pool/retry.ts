/**
 * Sends one request to a pool with retries before anything reached the caller: a refused connection, a
 * timeout, a 5xx or a stream that dies before its first event moves on to the next member, and once every
 * member that may take requests has failed, backs off (exponential, jittered) and starts a new round. A 503
 * with Retry-After marks the member busy instead of failing its breaker (a cold or full pool is waited for).
 * Stops at the retry budget, after maxAttempts, on abort, or at once when every member's breaker is open.
 */
import type { Member, PoolMembers } from './members.ts';
import { IdleTimeoutError } from './sse.ts';
import { ApiError } from '../../api/errors.ts';
import { poolUnavailable, retryAfterMs } from './errors.ts';

export interface PoolRetryOptions {
  /** Time allowed before the first event, all attempts and waits together. Default 60 000 ms. */
  budgetMs?: number;
  /** Failed attempts at most (busy answers are bounded by the budget only). Default 8. */
  maxAttempts?: number;
  /** Backoff after a failed round: base · 2^(round−1), jittered, capped. Defaults 250 and 5 000 ms. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Per attempt: until the response headers (for the model description: its whole body). Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Default Math.random (tests pin it). */
  random?: () => number;
}

/** What an attempt reports when the member answered but must not get this request now. */
export class RetryableError extends Error {
  override name = 'RetryableError';
  constructor(
    message: string,
    readonly kind: 'busy' | 'failure',
    readonly waitMs?: number,
  ) {
    super(message);
  }
}

export interface Attempt<T> {
  member: Member;
  /** Aborts this attempt's upstream request (call when the caller is done with the value). */
  controller: AbortController;
  value: T;
  /** Report how the request ended after it was handed over (mid-stream breaks count as failures). */
  settle(ok: boolean): void;
}

/**
 * The request to one member; resolves with something usable (for a stream: its first event). It throws a
 * RetryableError for "busy" or a failed answer, a ApiError for a definite refusal (not retried), and
 * anything else counts as a transport failure.
 */
export type AttemptFn<T> = (
  member: Member,
  init: { signal: AbortSignal; connected: () => void },
) => Promise<T>;

export class AbortedError extends Error {
  override name = 'AbortError';
}

export async function withRetries<T>(
  members: PoolMembers,
  signal: AbortSignal | undefined,
  options: PoolRetryOptions,
  attempt: AttemptFn<T>,
): Promise<Attempt<T>> {
  const {
    budgetMs = 60_000,
    maxAttempts = 8,
    backoffBaseMs = 250,
    backoffMaxMs = 5_000,
    connectTimeoutMs = 10_000,
    random = Math.random,
  } = options;
  const now = members.now;
  const deadline = now() + budgetMs;
  const tried = new Set<Member>();
  let failures = 0;
  let rounds = 0;
  let last = 'no member is accepting requests';
  for (;;) {
    if (signal?.aborted) throw new AbortedError('aborted');
    if (failures >= maxAttempts)
      throw poolUnavailable(`${failures} attempts failed (last: ${last})`);
    const member = members.pick(tried);
    if (!member) {
      // Fail fast while every breaker is open: that is what they are for. Busy members (503) are waited for.
      if (members.members.every((m) => m.breaker.state === 'open'))
        throw poolUnavailable(`every member's circuit breaker is open (last: ${last})`);
      // Every member that may take requests was tried this round (or none may): wait, then a new round.
      let wait: number;
      if (tried.size > 0) {
        rounds++;
        tried.clear();
        const backoff = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (rounds - 1));
        wait = Math.max(backoff * (0.5 + random() / 2), members.readyAt() - now());
      } else {
        wait = Math.max(1, members.readyAt() - now());
      }
      if (now() + wait > deadline)
        throw poolUnavailable(`retry budget of ${budgetMs} ms spent (last: ${last})`);
      await sleep(wait, signal);
      continue;
    }
    tried.add(member);
    const ticket = member.breaker.acquire();
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let connected = false;
    const connectTimer = setTimeout(() => {
      if (!connected)
        controller.abort(
          new IdleTimeoutError(`no answer within the connect timeout of ${connectTimeoutMs} ms`),
        );
    }, connectTimeoutMs);
    try {
      const value = await attempt(member, {
        signal: controller.signal,
        connected: () => {
          connected = true;
          clearTimeout(connectTimer);
        },
      });
      clearTimeout(connectTimer);
      member.health = { ok: true, at: now() };
      let settled = false;
      return {
        member,
        controller,
        value,
        settle: (ok) => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          if (ok || signal?.aborted) {
            ticket.success();
          } else {
            // A stream that broke mid-way: suspect the member until its next health check or success.
            ticket.failure();
            member.health = { ok: false, at: now() };
          }
        },
      };
    } catch (e: unknown) {
      clearTimeout(connectTimer);
      signal?.removeEventListener('abort', onAbort);
      controller.abort();
      if (signal?.aborted) {
        ticket.release();
        throw new AbortedError('aborted');
      }
      if (e instanceof RetryableError && e.kind === 'busy') {
        ticket.release();
        member.busyUntil = now() + (e.waitMs ?? backoffBaseMs);
      } else if (e instanceof ApiError) {
        // A definite answer (400, 401, an error event): the member is alive; the request itself is refused.
        ticket.success();
        throw e;
      } else {
        // Anything else failed on the way: refused or reset connections (a TypeError in Node, a plain Error in
        // workerd), timeouts, a body that broke or made no sense before its first event, a 5xx.
        ticket.failure();
        failures++;
        member.health = { ok: false, at: now() };
      }
      last = describe(e);
    }
  }
}

/** 503/429 with Retry-After → busy; other 5xx → failure; anything else is final for the caller to handle. */
export function classifyStatus(res: Response, now: number): RetryableError | null {
  if (res.status === 503 || res.status === 429)
    return new RetryableError(`HTTP ${res.status}`, 'busy', retryAfterMs(res, now));
  if (res.status >= 500) return new RetryableError(`HTTP ${res.status}`, 'failure');
  return null;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    return `${e.name}: ${e.message}${detail}`;
  }
  return String(e);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError('aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
