/**
 * The answer for a request no route handles: 405 with `Allow` when the path exists under other methods (PUT on
 * /v1/chat/completions), else 404 — both in the OpenAI envelope. Reads the app's routes at request time, so
 * sub-apps mounted later (admin, internal) count.
 */
import type { Context, Hono } from 'hono';
import { PatternRouter } from 'hono/router/pattern-router';
import { ApiError, errorResponse } from './api-error.ts';

/** Methods with a handler (not just middleware) for `path`; GET implies HEAD. */
export function allowedMethods(routes: { method: string; path: string }[], path: string): string[] {
  const router = new PatternRouter<true>();
  const methods = new Set<string>();
  for (const r of routes) {
    if (r.method === 'ALL') continue; // middleware
    router.add(r.method, r.path, true);
    methods.add(r.method);
  }
  const allowed = [...methods].filter((m) => router.match(m, path)[0].length > 0);
  if (allowed.includes('GET')) allowed.push('HEAD');
  return allowed.sort();
}

/** @example app.notFound(notFound(app, { openai: true })) */
export function notFound(app: Hono<never>, { openai = false } = {}) {
  return (c: Context) => {
    const allowed = allowedMethods(app.routes, c.req.path);
    // A handler of this very method that found nothing (an unknown asset) is a 404, not a 405.
    if (allowed.length === 0 || allowed.includes(c.req.method))
      return errorResponse(
        new ApiError(404, 'not_found_error', `Invalid URL (${c.req.method} ${c.req.path})`, {
          code: 'route_not_found',
        }),
        { openai },
      );
    return errorResponse(
      new ApiError(
        405,
        'invalid_request_error',
        `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(', ')}`,
        { code: 'method_not_allowed', headers: { allow: allowed.join(', ') } },
      ),
      { openai },
    );
  };
}
