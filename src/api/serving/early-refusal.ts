/**
 * Answers a generation request 429 before its body is read when its tenant can run nothing now (budget spent,
 * concurrency full, no request left this minute): reading, decoding and parsing a 1 MiB body costs tens of ms of
 * CPU that would otherwise be spent on a request refused anyway. With a limiter that can say so without a round
 * trip (Limiter.refusesAny) for every request whose key is already checked; with a remote limiter
 * (Limiter.screenKey, the Worker's Durable Object) for a deferred key only when the declared body is large, where
 * the extra round trip (which checks the key too: a bad one answers 401 here) costs less than the parse it may
 * spare. Small bodies keep their one call (key and admission together) after parsing. The error handler reads and
 * drops the unread body before the answer goes out (errors.ts), so a client still sending receives it.
 */
import { createMiddleware } from 'hono/factory';
import type { Context } from 'hono';
import type { Limiter } from '../tenancy.ts';
import { authError } from '../auth.ts';
import { declaredLength } from '../body-limit.ts';
import { headerRecord, refusalError } from './metering.ts';

/** A deferred key is screened before a body declared larger than this (the size parsed in separate tasks). */
export const SCREEN_ABOVE_BYTES = 64 << 10;

export function refuseBeforeBody(limiter: Limiter, applies: (c: Context) => boolean) {
  return createMiddleware(async function refuseBeforeBody(c, next) {
    const tenant = c.get('tenant');
    if (!tenant || !applies(c)) return next();
    const pending = c.get('pendingAuth');
    if (pending) {
      if (
        pending.settled ||
        !limiter.screenKey ||
        (declaredLength(c.req.raw) ?? 0) <= SCREEN_ABOVE_BYTES
      )
        return next();
      const screen = await limiter.screenKey({ ...pending.auth, tenant });
      if (screen.ok) return next(); // the admission call still checks the key (cached) and admits
      pending.settled = true;
      if ('auth' in screen) throw authError(screen.auth);
      throw refusalError(screen.refusal, headerRecord(screen.headers));
    }
    if (!limiter.refusesAny) return next();
    const refused = await limiter.refusesAny(tenant);
    if (refused) throw refusalError(refused.refusal, headerRecord(refused.headers));
    return next();
  });
}
