/**
 * Answers a generation request 429 before its body is read when its tenant can run nothing now (budget spent,
 * concurrency full, no request left this minute): reading, decoding and parsing a 1 MiB body costs tens of ms of
 * CPU that would otherwise be spent on a request refused anyway. Only with a limiter that can say so without a
 * round trip (Limiter.refusesAny) and a key already checked (a deferred key is checked by the admission call).
 */
import { createMiddleware } from 'hono/factory';
import type { Context } from 'hono';
import type { Limiter } from '../tenancy.ts';
import { headerRecord, refusalError } from './metering.ts';

export function refuseBeforeBody(limiter: Limiter, applies: (c: Context) => boolean) {
  return createMiddleware(async function refuseBeforeBody(c, next) {
    const tenant = c.get('tenant');
    if (!limiter.refusesAny || !tenant || c.get('pendingAuth') || !applies(c)) return next();
    const refused = await limiter.refusesAny(tenant);
    if (refused) throw refusalError(refused.refusal, headerRecord(refused.headers));
    return next();
  });
}
