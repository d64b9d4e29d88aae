/** Guards operator-only routes with `Authorization: Bearer <ADMIN_TOKEN>` (constant-time compare). */
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../api/errors.ts';
import { secretsEqual } from '../tenants/keys.ts';
import { bearerKey } from '../api/auth.ts';

export function adminOnly(adminToken: string | undefined) {
  return createMiddleware(async function adminOnly(c, next) {
    if (!adminToken)
      throw new ApiError(
        403,
        'permission_error',
        'operator routes are disabled: no ADMIN_TOKEN is configured',
        { code: 'admin_disabled' },
      );
    const given = bearerKey(c.req.header('authorization'), undefined);
    if (!given || !(await secretsEqual(given, adminToken)))
      throw new ApiError(401, 'authentication_error', 'invalid admin token', {
        code: 'invalid_admin_token',
      });
    await next();
  });
}
