/**
 * Errors of every Unmask HTTP app (the OpenAI API, the admin API, the internal routes, the GPU pool server):
 * one type (ApiError), one mapping of anything thrown to it, one renderer of the OpenAI envelope.
 */
import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { DecodeOptionsError } from '../decode/errors.ts';
import { TemplateError } from '../model/text-codec.ts';
import { ModelLoadError } from '../model/store.ts';
import { ApiError, ClientGoneError, badRequest, clientClosed, errorResponse } from './api-error.ts';
import { DISCARD_UNREAD, discardBody } from './body-limit.ts';
import { decodeOptionsApiError } from './protocol/decode-fields.ts';

export {
  ApiError,
  ClientGoneError,
  badRequest,
  clientClosed,
  errorResponse,
  openAiEnvelope,
  type ApiErrorOptions,
  type ErrorType,
} from './api-error.ts';

/** Maps any thrown value to an ApiError; unknown errors become a 500 without internals in the body. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof ClientGoneError) return clientClosed();
  if (e instanceof DecodeOptionsError) return decodeOptionsApiError(e);
  if (e instanceof TemplateError) return badRequest(e.message, 'messages');
  if (e instanceof ModelLoadError)
    return new ApiError(
      503,
      'service_unavailable_error',
      'The model is unavailable; try again shortly',
      { code: 'model_unavailable', retryAfterSeconds: 5, cause: e },
    );
  // hono's own failures (body limit, malformed JSON) arrive as HTTPExceptions.
  if (e instanceof HTTPException) {
    if (e.status === 413)
      return new ApiError(413, 'invalid_request_error', 'request body too large', {
        code: 'request_too_large',
      });
    if (e.status < 500)
      return badRequest(e.message || 'invalid request body', null, 'invalid_json');
  }
  return new ApiError(500, 'server_error', 'internal error', { code: 'internal_error' });
}

export interface ErrorRendererOptions {
  /** Where 5xx failures are reported, one line each (never the error body a client sees). */
  log?: (line: string) => void;
  /** Render OpenAI's error types (the public API) instead of ours (internal protocols). */
  openai?: boolean;
}

/** The error and its causes, for the server log (a 503's cause names the package path and hashes; never sent). */
function describe(e: unknown): string {
  const parts: string[] = [];
  for (let at: unknown = e, depth = 0; at !== undefined && depth < 4; depth++) {
    parts.push(at instanceof Error ? `${at.name}: ${at.message}` : String(at));
    at = at instanceof Error ? at.cause : undefined;
  }
  return parts.join(' ← caused by ');
}

/**
 * The one `app.onError` of every app: the OpenAI envelope with the right status; server-side failures are logged
 * with their cause (the client sees none of it).
 * @example app.onError(renderErrors({ log: console.error }))
 */
export function renderErrors({ log, openai = false }: ErrorRendererOptions = {}): ErrorHandler {
  return async (e: Error, c: Context) => {
    const err = toApiError(e);
    if (err.status >= 500) {
      const id = c.get('requestId') as string | undefined;
      log?.(`error ${c.req.method} ${c.req.path}${id ? ` request=${id}` : ''}: ${describe(e)}`);
    }
    // Answered before its body was read (a bad key, a refusal): an answer sent while the client still sends
    // reaches it as a connection reset, so what is left is read and dropped first (cheap next to parsing it).
    // An error that already closes the connection (an oversized body, not drained on purpose) is answered at once.
    const closing = err.headers.connection === 'close';
    const drained = closing || (await discardBody(c.req.raw, DISCARD_UNREAD));
    const response = errorResponse(err, { openai });
    if (!drained) response.headers.set('connection', 'close');
    return response;
  };
}
