/**
 * Every response carries `x-request-id` (errors included): a fresh server id, the one the usage record and the
 * log line use. A caller's own id (a gateway's trace id, when sane) is kept beside it, in the log line and echoed
 * as `x-client-request-id`, but never used for metering: usage is deduplicated by request id, so a caller
 * choosing it could make its own requests count once.
 */
import { createMiddleware } from 'hono/factory';

declare module 'hono' {
  interface ContextVariableMap {
    requestId: string;
    clientRequestId: string | null;
  }
}

export const REQUEST_ID_HEADER = 'x-request-id';
export const CLIENT_REQUEST_ID_HEADER = 'x-client-request-id';
const SANE = /^[\w.:-]{1,128}$/;

export function requestIds() {
  return createMiddleware(async function requestIds(c, next) {
    const given = c.req.header(REQUEST_ID_HEADER) ?? c.req.header(CLIENT_REQUEST_ID_HEADER);
    const client = given && SANE.test(given) ? given : null;
    const id = `req_${crypto.randomUUID().replace(/-/g, '')}`;
    c.set('requestId', id);
    c.set('clientRequestId', client);
    await next();
    c.res.headers.set(REQUEST_ID_HEADER, id);
    if (client) c.res.headers.set(CLIENT_REQUEST_ID_HEADER, client);
  });
}
