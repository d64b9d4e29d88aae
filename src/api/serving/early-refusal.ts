/**
 * Answers a generation request 429 before its body is read when its tenant can run nothing now (budget spent,
 * concurrency full, no request left this minute): reading, decoding and parsing a 1 MiB body costs tens of ms of
 * CPU that would otherwise be spent on a request refused anyway. With a limiter that can say so without a round
 * trip (Limiter.refusesAny) for every request whose key is already checked; with a remote limiter
 * (Limiter.screenKey, the Worker's Durable Object) for a deferred key only when the declared body is large, where
 * the extra round trip (which checks the key too: a bad one answers 401 here) costs less than the parse it may
 * spare. Small bodies keep their one call (key and admission together) after parsing.
 */
import { createMiddleware } from 'hono/factory';
import type { Context } from 'hono';
import type { Limiter } from '../tenancy.ts';
import type { ApiError } from '../api-error.ts';
import { authError } from '../auth.ts';
import { discardBody } from '../body-limit.ts';
import { headerRecord, refusalError } from './metering.ts';

/**
 * A refused request's body is read and dropped while it keeps coming (a busy server reads a 1 MiB body slowly),
 * for at most 30 s, as the body limit drains an oversized one; a body that stalls for 2 s is answered anyway.
 * Bodies past the body limit never get here: the byte bound only stops a body that lied about its length.
 */
const DISCARD = { maxBytes: 64 << 20, maxMs: 30_000, idleMs: 2_000 } as const;
/** A deferred key is screened before a body declared larger than this (the size parsed in separate tasks). */
export const SCREEN_ABOVE_BYTES = 64 << 10;

function declaredLength(c: Context): number {
  if (c.req.header('transfer-encoding')) return 0;
  const declared = Number.parseInt(c.req.header('content-length') ?? '', 10);
  return Number.isFinite(declared) ? declared : 0;
}

export function refuseBeforeBody(limiter: Limiter, applies: (c: Context) => boolean) {
  return createMiddleware(async function refuseBeforeBody(c, next) {
    const tenant = c.get('tenant');
    if (!tenant || !applies(c)) return next();
    const pending = c.get('pendingAuth');
    if (pending) {
      if (pending.settled || !limiter.screenKey || declaredLength(c) <= SCREEN_ABOVE_BYTES)
        return next();
      const screen = await limiter.screenKey({ ...pending.auth, tenant });
      if (screen.ok) return next(); // the admission call still checks the key (cached) and admits
      pending.settled = true;
      if ('auth' in screen) return refuse(c, authError(screen.auth));
      return refuse(c, refusalError(screen.refusal, headerRecord(screen.headers)));
    }
    if (!limiter.refusesAny) return next();
    const refused = await limiter.refusesAny(tenant);
    if (refused) return refuse(c, refusalError(refused.refusal, headerRecord(refused.headers)));
    return next();
  });
}

/**
 * Throws `error` once the unread body is read and dropped (cheap next to decoding and parsing it): answering while
 * the client still sends would reach it as a connection reset. A body that stalls or takes too long (DISCARD) gets
 * the answer with `connection: close`.
 */
async function refuse(c: Context, error: ApiError): Promise<never> {
  if (!(await discardBody(c.req.raw, DISCARD))) error.headers.connection = 'close';
  throw error;
}
