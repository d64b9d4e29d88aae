/**
 * Every response carries `x-request-id` (errors included), the id the usage record and the log line use: the
 * caller's own when it sends a sane one (a gateway's trace id), else a fresh `req_…`.
 */
import { createMiddleware } from 'hono/factory';

declare module 'hono' {
  interface ContextVariableMap {
    requestId: string;
  }
}

export const REQUEST_ID_HEADER = 'x-request-id';
const SANE = /^[\w.:-]{1,128}$/;

export function requestIds() {
  return createMiddleware(async function requestIds(c, next) {
    const given = c.req.header(REQUEST_ID_HEADER);
    const id = given && SANE.test(given) ? given : `req_${crypto.randomUUID().replace(/-/g, '')}`;
    c.set('requestId', id);
    await next();
    c.res.headers.set(REQUEST_ID_HEADER, id);
  });
}
