/** The internal API's errors: the public API's ApiError and OpenAI envelope (src/api/errors.ts), plus a 503 helper. */
import { ApiError } from '../../../src/api/errors.ts';

export const unavailable = (message: string, code: string, retryAfterS: number) =>
  new ApiError(503, 'service_unavailable_error', message, {
    code,
    headers: { 'retry-after': String(retryAfterS) },
  });
