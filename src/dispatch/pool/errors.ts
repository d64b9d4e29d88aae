/** The pool client's failures as ApiErrors (rendered by src/api), and how a member's answer is classified. */
import { ApiError } from '../../api/errors.ts';
import type { ErrorType } from '../../api/errors.ts';

/** Seconds a client is told to wait when the pool is unavailable. */
export const UNAVAILABLE_RETRY_AFTER_S = 5;

export function poolUnavailable(detail: string, cause?: unknown): ApiError {
  return new ApiError(503, 'service_unavailable_error', `The GPU pool is unavailable: ${detail}`, {
    code: 'backend_unavailable',
    retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S,
    cause,
  });
}

/** The stream broke after events had reached the client, so it cannot be retried. */
export function poolDisconnected(detail: string, cause?: unknown): ApiError {
  return new ApiError(502, 'server_error', `The GPU pool stream ended unexpectedly: ${detail}`, {
    code: 'backend_disconnected',
    cause,
  });
}

export function poolMisconfigured(detail: string): ApiError {
  return new ApiError(502, 'server_error', `The GPU pool rejected the Worker: ${detail}`, {
    code: 'backend_misconfigured',
  });
}

const STATUS_BY_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 502,
  permission_error: 502,
  not_found_error: 404,
  rate_limit_error: 429,
  insufficient_quota: 429,
  server_error: 500,
  service_unavailable_error: 503,
};
const KNOWN_TYPES = new Set<string>(Object.keys(STATUS_BY_TYPE));

/**
 * An `error` event or JSON error envelope from the pool. Auth errors are the Worker's misconfiguration, not the
 * caller's, so they become 502s.
 */
export function fromPoolError(
  error: { message?: unknown; type?: unknown; code?: unknown; param?: unknown },
  status?: number,
): ApiError {
  const rawType = typeof error.type === 'string' ? error.type : 'server_error';
  const message = typeof error.message === 'string' ? error.message : 'GPU pool error';
  const code = typeof error.code === 'string' ? error.code : null;
  const param = typeof error.param === 'string' ? error.param : null;
  if (
    rawType === 'authentication_error' ||
    rawType === 'permission_error' ||
    status === 401 ||
    status === 403
  )
    return poolMisconfigured(message);
  const type = (KNOWN_TYPES.has(rawType) ? rawType : 'server_error') as ErrorType;
  return new ApiError(status && status >= 400 ? status : STATUS_BY_TYPE[type], type, message, {
    code,
    param,
    ...(type === 'service_unavailable_error'
      ? { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S }
      : {}),
  });
}

/** Reads an error response's body as the OpenAI envelope, or describes it. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: Record<string, unknown> };
    if (body && typeof body.error === 'object' && body.error)
      return fromPoolError(body.error, res.status);
  } catch {
    /* not JSON */
  }
  return fromPoolError(
    { message: `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}` },
    res.status,
  );
}

/** Retry-After as ms (seconds or an HTTP date), or undefined. */
export function retryAfterMs(res: Response, now: number): number | undefined {
  const raw = res.headers.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
