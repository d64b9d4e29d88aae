/**
 * The one bearer-token check of every protected route (admin API, /internal/*, /metrics, the GPU pool's internal
 * API), hono's `bearerAuth({ verifyToken })` shape with OpenAI error envelopes: 403 when the routes are disabled
 * (no token configured), 401 for a missing or wrong token. Tokens are compared in constant time.
 */
import { createMiddleware } from 'hono/factory';
import { ApiError } from './api-error.ts';
import { secretsEqual } from './secrets.ts';

export interface BearerAuthOptions {
  /** The expected token. Empty or undefined: the routes are disabled (403) — never open. */
  token: string | null | undefined;
  /** What the token is, for messages (e.g. "admin token", "pool secret"). */
  name: string;
  /** The setting that enables the routes, named in the 403 (e.g. "ADMIN_TOKEN"). */
  setting: string;
  /** Error codes of the 403 and the 401 (defaults: the admin token's, `admin_disabled`, `invalid_admin_token`). */
  codes?: { disabled: string; invalid: string };
}

/** `Authorization: Bearer <token>` → the token (or `x-api-key` when given), else null. */
export function bearerToken(authorization: string | undefined, apiKey?: string): string | null {
  const m = authorization ? /^Bearer\s+(.+)$/i.exec(authorization.trim()) : null;
  return m ? m[1].trim() : apiKey?.trim() || null;
}

/** @example app.use('/admin/*', bearerAuth({ token: env.ADMIN_TOKEN, name: 'admin token', setting: 'ADMIN_TOKEN' })) */
export function bearerAuth({
  token,
  name,
  setting,
  codes = { disabled: 'admin_disabled', invalid: 'invalid_admin_token' },
}: BearerAuthOptions) {
  return createMiddleware(async function bearerAuth(c, next) {
    if (!token)
      throw new ApiError(
        403,
        'permission_error',
        `These routes are disabled: set ${setting} to enable them`,
        {
          code: codes.disabled,
        },
      );
    const given = bearerToken(c.req.header('authorization'));
    if (!given || !(await secretsEqual(given, token)))
      throw new ApiError(
        401,
        'authentication_error',
        `Invalid or missing ${name} (Authorization: Bearer …)`,
        {
          code: codes.invalid,
          headers: { 'www-authenticate': 'Bearer' },
        },
      );
    await next();
  });
}
