/** Shared-secret bearer auth for the internal API, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../../src/api/errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** True when `header` is `Bearer <secret>`. Hashing first makes the compare length-independent. */
export function bearerMatches(header: string | undefined, secret: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1].trim()), digest(secret));
}

/**
 * Rejects requests without the pool secret (401 authentication_error).
 * @example app.use('/internal/*', poolAuth({ secret: process.env.GPU_POOL_SECRET! }))
 */
export function poolAuth({ secret }: { secret: string }): MiddlewareHandler {
  if (!secret) throw new Error('poolAuth: the secret must not be empty');
  return async function poolAuth(c, next) {
    if (!bearerMatches(c.req.header('authorization'), secret)) {
      throw new ApiError(401, 'authentication_error', 'invalid or missing pool secret', {
        code: 'invalid_api_key',
      });
    }
    await next();
  };
}
