/** Tenant API-key middleware: Bearer (or x-api-key) → the tenant, as a typed context variable. */
import { createMiddleware } from 'hono/factory';
import type { Tenant, TenantStore } from './tenancy.ts';
import { ApiError } from './errors.ts';

declare module 'hono' {
  interface ContextVariableMap {
    tenant: Tenant;
    keyId: string;
  }
}

const MESSAGES = {
  missing: ['missing_api_key', 'Missing API key: send "Authorization: Bearer <key>"'],
  invalid: ['invalid_api_key', 'Invalid API key'],
  revoked: ['revoked_api_key', 'This API key has been revoked'],
  expired: ['expired_api_key', 'This API key has expired'],
} as const;

export function bearerKey(
  header: string | undefined,
  apiKeyHeader: string | undefined,
): string | null {
  const m = header ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  return m ? m[1].trim() : apiKeyHeader?.trim() || null;
}

export function tenantAuth(store: TenantStore) {
  return createMiddleware(async function tenantAuth(c, next) {
    const outcome = await store.authenticate(
      bearerKey(c.req.header('authorization'), c.req.header('x-api-key')),
    );
    if (!outcome.ok) {
      const [code, message] = MESSAGES[outcome.reason];
      throw new ApiError(401, 'authentication_error', message, {
        code,
        headers: { 'www-authenticate': 'Bearer' },
      });
    }
    c.set('tenant', outcome.tenant);
    c.set('keyId', outcome.keyId);
    await next();
  });
}
