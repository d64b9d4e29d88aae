/**
 * What a remote engine throws when its backend refuses or fails a generation (a GPU pool that is down, busy or
 * drops a stream). Engines live outside src/api and never build ApiErrors; toApiError renders this one.
 */
import type { ErrorType } from './errors.ts';

export interface BackendErrorOptions {
  /** The OpenAI error code, e.g. "backend_unavailable". */
  code?: string | null;
  param?: string | null;
  /** Sent as Retry-After (whole seconds) when the error is answered before a stream starts. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class BackendError extends Error {
  override name = 'BackendError';
  readonly code: string | null;
  readonly param: string | null;
  readonly retryAfterSeconds: number | undefined;

  constructor(readonly status: number, readonly type: ErrorType, message: string, { code = null, param = null, retryAfterSeconds, cause }: BackendErrorOptions = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.param = param;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
