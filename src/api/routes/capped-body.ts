/**
 * Route middleware that applies REQUEST_CAPS to a JSON body before the route's schema validates it. The parsed
 * body is handed on to the validator, so a 1 MiB body is parsed once.
 */
import { createMiddleware } from 'hono/factory';
import { checkRequestCaps, type RequestKind } from '../protocol/request-caps.ts';

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

export function cappedBody(kind: RequestKind) {
  return createMiddleware(async function cappedBody(c, next) {
    const type = (c.req.header('content-type') ?? '').split(';')[0].trim();
    if (!JSON_TYPE.test(type)) return next();
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return next(); // not JSON: the validator answers it
    }
    checkRequestCaps(body, kind);
    // Hono's json() parses the text again on each call; the validator reads this one.
    c.req.json = <T>() => Promise.resolve(body as T);
    return next();
  });
}
