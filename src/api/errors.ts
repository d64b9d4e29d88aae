/** The one API error type and its OpenAI envelope: {"error":{"message","type","param","code"}}. */
import { DecodeOptionsError } from '../decode/errors.ts';
import { TemplateError } from '../model/text-codec.ts';
import { ModelLoadError } from '../model/store.ts';

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

/** Decode-loop option names → the request field a client sent. */
const PARAM_NAMES: Record<string, string> = {
  maxTokens: 'max_tokens',
  blockLength: 'block_length',
  topK: 'top_k',
  topP: 'top_p',
  eosEarlyStop: 'eos_early_stop',
  algorithm: 'strategy',
  promptIds: 'prompt',
  minimalTopk: 'minimal_topk',
};

/** Maps any thrown value to an ApiError; unknown errors become a 500 without internals in the body. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof DecodeOptionsError) {
    const root = e.param.split('.')[0];
    const param = PARAM_NAMES[root] ?? root;
    const code =
      root === 'promptIds' && /position|exceed|context/i.test(e.message)
        ? 'context_length_exceeded'
        : null;
    return badRequest(e.message.replace(/^[\w.]+: /, `${param}: `), param, code);
  }
  if (e instanceof TemplateError) return badRequest(e.message, 'messages');
  if (e instanceof ModelLoadError)
    return new ApiError(503, 'service_unavailable_error', `model unavailable: ${e.message}`, {
      code: 'model_unavailable',
      headers: { 'retry-after': '5' },
    });
  return new ApiError(500, 'server_error', 'internal error', { code: 'internal_error' });
}

export function errorResponse(err: ApiError): Response {
  return new Response(JSON.stringify(err.toJSON()), {
    status: err.status,
    headers: { 'content-type': 'application/json', ...err.headers },
  });
}
