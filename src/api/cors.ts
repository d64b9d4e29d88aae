/**
 * CORS for the OpenAI routes, so browser apps can call the API with a tenant key. Keys travel in the
 * Authorization header, never in cookies, so allowing any origin exposes nothing a page could not already send;
 * deployments that want a list set CORS_ORIGINS. Preflights are answered before authentication.
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
    allowHeaders: [
      'authorization',
      'content-type',
      'x-api-key',
      'x-request-id',
      'openai-organization',
      'openai-project',
    ],
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
