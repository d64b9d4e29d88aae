/**
 * Every response carries `x-request-id` (errors included): a fresh server id, the one the usage record and the
 * log line use. A caller's own id (a gateway's trace id, when sane) is kept beside it, in the log line and echoed
 * as `x-client-request-id`, but never used for metering: usage is deduplicated by request id, so a caller
 * choosing it could make its own requests count once. An id that looks like a secret (an API key pasted into the
 * wrong header, a bearer token, a long random token) is neither echoed nor logged.
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
/** Shapes of well-known credentials: ours, OpenAI-style, GitHub, GitLab, Slack, AWS, Google, JWTs, HF, npm, auth schemes. */
const SECRET_SHAPES = [
  /^(sk|rk|pk)[-_]/i,
  /^adm-/,
  /^(ghp|gho|ghs|ghu|github_pat)_/,
  /^glpat-/,
  /^xox[abpr]-/,
  /^(AKIA|ASIA)[A-Z0-9]{16}$/,
  /^AIza[\w-]{30,}/,
  /^eyJ[\w-]{10,}/,
  /^(hf|npm|shpat)_/,
  /^(bearer|basic)[:._-]?[\w-]{8,}/i,
];

/**
 * Whether a caller's id looks like a credential: a known key prefix, or a long token mixing upper case, lower
 * case and digits (base62/base64 secrets). Trace ids (UUIDs, hex, ULIDs) pass.
 */
export function looksSecret(id: string): boolean {
  if (SECRET_SHAPES.some((shape) => shape.test(id))) return true;
  return id.length >= 24 && /[a-z]/.test(id) && /[A-Z]/.test(id) && /\d/.test(id);
}

export function requestIds() {
  return createMiddleware(async function requestIds(c, next) {
    const given = c.req.header(REQUEST_ID_HEADER) ?? c.req.header(CLIENT_REQUEST_ID_HEADER);
    const client = given && SANE.test(given) && !looksSecret(given) ? given : null;
    const id = `req_${crypto.randomUUID().replace(/-/g, '')}`;
    c.set('requestId', id);
    c.set('clientRequestId', client);
    await next();
    c.res.headers.set(REQUEST_ID_HEADER, id);
    if (client) c.res.headers.set(CLIENT_REQUEST_ID_HEADER, client);
  });
}
