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

/**
 * The envelope OpenAI's API would send for this error. Our own types stay on the internal protocols (the GPU pool
 * classifies by them); clients of /v1 see OpenAI's taxonomy: 400/401/403/404/413 are all
 * `invalid_request_error` (the `code` tells them apart: invalid_api_key, model_not_found, …), a 429 is `requests`
 * or `tokens` (which limit) or `insufficient_quota`, and every 5xx is `server_error`.
 */
export function openAiEnvelope(err: ApiError) {
  return {
    error: { message: err.message, type: openAiType(err), param: err.param, code: err.code },
  };
}

function openAiType(err: ApiError): string {
  switch (err.type) {
    case 'rate_limit_error':
      // The limiter names the limit in its message ("… tokens per min (TPM) …").
      return /tokens per min/.test(err.message) ? 'tokens' : 'requests';
    case 'insufficient_quota':
      return 'insufficient_quota';
    case 'server_error':
    case 'service_unavailable_error':
      return 'server_error';
    default:
      return 'invalid_request_error';
  }
}

export const badRequest = (
  message: string,
  param: string | null = null,
  code: string | null = null,
) => new ApiError(400, 'invalid_request_error', message, { param, code });

/** The error as an HTTP response; `openai: true` renders OpenAI's error types (the /v1 routes). */
export function errorResponse(err: ApiError, { openai = false } = {}): Response {
  return new Response(JSON.stringify(openai ? openAiEnvelope(err) : err.toJSON()), {
    status: err.status,
    headers: { 'content-type': 'application/json', ...err.headers },
  });
}

/** The client went away before the answer was complete (an aborted generation): status 499, never a 5xx. */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

export const clientClosed = () =>
  new ApiError(499, 'invalid_request_error', 'The client closed the request', {
    code: 'client_closed_request',
  });
