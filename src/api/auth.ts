/**
 * Tenant API-key middleware: Bearer (or x-api-key) → the tenant, as a typed context variable. Where the store and
 * the limiter allow it (a key that names its tenant, see TenantStore.deferAuthentication), a generation request's
 * key is checked by the admission call itself — one round trip for both — and never later than that: a request
 * that ends before admission (a 400, a 404) has its key checked here afterwards, so a bad key still answers 401.
 */
import { createMiddleware } from 'hono/factory';
import type { Context } from 'hono';
import type { AuthFailure, DeferredAuth, Tenant, TenantStore } from './tenancy.ts';
import { ApiError } from './errors.ts';

/** A key left to the admission call; `settled` once that call (or this middleware) has checked it. */
export interface PendingAuth {
  auth: DeferredAuth;
  settled: boolean;
}

declare module 'hono' {
  interface ContextVariableMap {
    tenant: Tenant;
    keyId: string;
    pendingAuth: PendingAuth | undefined;
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

/** The 401 for a failed key check. */
export function authError(reason: AuthFailure): ApiError {
  const [code, message] = MESSAGES[reason];
  return new ApiError(401, 'authentication_error', message, {
    code,
    headers: { 'www-authenticate': 'Bearer' },
  });
}

export interface TenantAuthOptions {
  /** Requests whose key may be checked by their admission call (the generation routes, with a keyed limiter). */
  deferFor?: (c: Context) => boolean;
}

export function tenantAuth(store: TenantStore, options: TenantAuthOptions = {}) {
  return createMiddleware(async function tenantAuth(c, next) {
    const apiKey = bearerKey(c.req.header('authorization'), c.req.header('x-api-key'));
    const deferred =
      apiKey && options.deferFor?.(c) ? (store.deferAuthentication?.(apiKey) ?? null) : null;
    if (deferred) {
      const pending: PendingAuth = { auth: deferred, settled: false };
      c.set('tenant', deferred.tenant);
      c.set('pendingAuth', pending);
      await next();
      if (pending.settled) return;
      // The request ended before its admission: its answer is only for a valid key.
      pending.settled = true;
      const outcome = await store.authenticate(apiKey);
      if (!outcome.ok) throw authError(outcome.reason);
      return;
    }
    const outcome = await store.authenticate(apiKey);
    if (!outcome.ok) throw authError(outcome.reason);
    c.set('tenant', outcome.tenant);
    c.set('keyId', outcome.keyId);
    await next();
  });
}
