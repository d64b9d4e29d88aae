/** The one API error type and its OpenAI envelope: {"error":{"message","type","param","code"}}. */

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'server_error'
  | 'service_unavailable_error';

export interface ApiErrorOptions {
  param?: string | null;
  code?: string | null;
  headers?: Record<string, string>;
  /** Sent as `retry-after` (whole seconds, at least 1) when the error is answered before a stream starts. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class ApiError extends Error {
  override name = 'ApiError';
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly status: number,
    readonly type: ErrorType,
    message: string,
    { param = null, code = null, headers = {}, retryAfterSeconds, cause }: ApiErrorOptions = {},
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.param = param;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
    this.headers =
      retryAfterSeconds === undefined
        ? headers
        : { ...headers, 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) };
  }

  toJSON() {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }
}

export const badRequest = (
  message: string,
  param: string | null = null,
  code: string | null = null,
) => new ApiError(400, 'invalid_request_error', message, { param, code });

export function errorResponse(err: ApiError): Response {
  return new Response(JSON.stringify(err.toJSON()), {
    status: err.status,
    headers: { 'content-type': 'application/json', ...err.headers },
  });
}
