/** Bounded retries with exponential backoff and jitter, for transient storage errors. */
import { ModelLoadError } from '../store.ts';

export const DEFAULT_RETRIES = 4;
export const DEFAULT_RETRY_BASE_MS = 200;
export const DEFAULT_RETRY_MAX_MS = 5_000;

export interface StorageRetryOptions {
  /** Extra attempts after the first (default 4; 0 disables retries). */
  retries?: number;
  /** Delay before the first retry, doubled for each later one (default 200 ms). */
  baseDelayMs?: number;
  /** Upper bound of one delay (default 5 s). */
  maxDelayMs?: number;
  /** Which errors are worth another attempt (default: ModelLoadError with code 'transient'). */
  isRetryable?: (e: unknown) => boolean;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void;
}

export function isTransient(e: unknown): boolean {
  return e instanceof ModelLoadError && e.code === 'transient';
}

/** The delay before retry `attempt` (1-based): exponential, capped, with "equal jitter" (half fixed, half random). */
export function backoffDelay(
  attempt: number,
  baseDelayMs = DEFAULT_RETRY_BASE_MS,
  maxDelayMs = DEFAULT_RETRY_MAX_MS,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * Runs `fn` until it succeeds, fails with a non-retryable error, or runs out of attempts (then the last
 * error is thrown unchanged, so callers still see its code and message).
 * @example await withRetry(() => store.get('manifest.json'), { retries: 3 })
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: StorageRetryOptions = {},
): Promise<T> {
  const {
    retries = DEFAULT_RETRIES,
    baseDelayMs = DEFAULT_RETRY_BASE_MS,
    maxDelayMs = DEFAULT_RETRY_MAX_MS,
    isRetryable = isTransient,
    onRetry,
  } = options;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e: unknown) {
      if (attempt >= retries || !isRetryable(e)) throw e;
      const delay = backoffDelay(attempt + 1, baseDelayMs, maxDelayMs);
      onRetry?.(e, attempt + 1, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
