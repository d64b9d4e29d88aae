/** The pool's internal API is for holders of the shared secret only (GPU_POOL_SECRET). */
import type { MiddlewareHandler } from 'hono';
import { bearerAuth } from '../../../src/api/bearer-auth.ts';

/**
 * Rejects requests without the pool secret (401 authentication_error). An empty secret is a start-up error,
 * never an open API.
 * @example app.use('/internal/*', poolAuth({ secret: process.env.GPU_POOL_SECRET! }))
 */
export function poolAuth({ secret }: { secret: string }): MiddlewareHandler {
  if (!secret) throw new Error('poolAuth: the secret must not be empty');
  return bearerAuth({
    token: secret,
    name: 'pool secret',
    setting: 'GPU_POOL_SECRET',
    codes: { disabled: 'pool_disabled', invalid: 'invalid_api_key' },
  });
}
