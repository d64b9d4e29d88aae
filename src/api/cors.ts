/**
 * CORS for the OpenAI routes, so browser apps can call the API with a tenant key. Keys travel in the
 * Authorization header, never in cookies, so allowing any origin exposes nothing a page could not already send;
 * deployments that want a list set CORS_ORIGINS. Preflights are answered before authentication.
 *
 * A preflight's requested headers are reflected rather than checked against a list: SDKs add their own and keep
 * adding more (the openai SDKs' `x-stainless-*`, `x-client-request-id`, `openai-*`, the AI SDK's `user-agent`),
 * and with no credentials mode a header grants nothing a page could not send anyway.
 */
import { cors } from 'hono/cors';
import type { MiddlewareHandler } from 'hono';

/** '*' (any origin), a list of exact origins, or null (no CORS headers). */
export type CorsOrigins = '*' | string[] | null;

/** CORS_ORIGINS: unset or "*" → any origin; "none" → off; else comma-separated origins. */
export function parseCorsOrigins(value: string | undefined): CorsOrigins {
  const v = value?.trim();
  if (!v || v === '*') return '*';
  if (v === 'none') return null;
  return v
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
}

export function apiCors(origins: CorsOrigins): MiddlewareHandler | null {
  if (origins === null) return null;
  return cors({
    origin: origins,
    allowMethods: ['GET', 'POST', 'OPTIONS'],
    // Empty: hono reflects Access-Control-Request-Headers (and varies on it).
    allowHeaders: [],
    exposeHeaders: [
      'x-request-id',
      'x-client-request-id',
      'retry-after',
      'x-ratelimit-limit-requests',
      'x-ratelimit-remaining-requests',
      'x-ratelimit-reset-requests',
      'x-ratelimit-limit-tokens',
      'x-ratelimit-remaining-tokens',
      'x-ratelimit-reset-tokens',
    ],
    maxAge: 86400,
  });
}
