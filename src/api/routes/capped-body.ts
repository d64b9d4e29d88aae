/**
 * Route middleware that applies REQUEST_CAPS to a JSON body before the route's schema validates it. The parsed
 * body is handed on to the validator, so a 1 MiB body is parsed once. A large body is decoded and parsed in
 * separate tasks (each 5–20 ms of CPU for 1 MiB on a small machine), each after letting other requests' work run
 * (yieldsFor), so small requests do not wait behind it.
 */
import { createMiddleware } from 'hono/factory';
import { deferToForeground } from '../foreground.ts';
import { checkRequestCaps, type RequestKind } from '../protocol/request-caps.ts';

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** Bodies above this yield to other work between reading, decoding, parsing and checking. */
export const YIELD_ABOVE_BYTES = 64 << 10;

/** One decoder for every body (a non-streaming decode keeps no state); constructing one per request is not free. */
const UTF8 = new TextDecoder();

/**
 * What a body waits before each heavy step: nothing when small; above YIELD_ABOVE_BYTES one task per started
 * 256 KiB, then for as long as model forwards wait or run (foreground.ts), up to 40 ms (and 40 tasks) per started
 * 256 KiB. Small requests go first while large bodies share what is left: a 1 MiB body's parse waits up to
 * 0.2 s behind a busy model, and on an idle server a few ms.
 */
function yieldsFor(bytes: number): () => Promise<void> {
  if (bytes <= YIELD_ABOVE_BYTES) return async () => {};
  const quarters = 1 + Math.floor(bytes / (256 << 10));
  return () =>
    deferToForeground({ minTasks: quarters, maxTasks: 40 * quarters, maxMs: 40 * quarters });
}

export function cappedBody(kind: RequestKind) {
  return createMiddleware(async function cappedBody(c, next) {
    const type = (c.req.header('content-type') ?? '').split(';')[0].trim();
    if (!JSON_TYPE.test(type)) return next();
    let body: unknown;
    try {
      // A body that cannot be read (its client went away mid-way) is answered as one that is not JSON.
      const bytes = await c.req.arrayBuffer();
      const pause = yieldsFor(bytes.byteLength);
      await pause();
      // As Request.text() decodes: UTF-8, a BOM dropped, invalid sequences replaced.
      const text = UTF8.decode(bytes);
      await pause();
      body = JSON.parse(text);
      await pause();
    } catch (e: unknown) {
      // Not JSON: the validator answers it (its "Malformed JSON" 400) without reading or parsing it again.
      c.req.json = () => Promise.reject(e);
      return next();
    }
    checkRequestCaps(body, kind);
    // Hono's json() parses the text again on each call; the validator reads this one.
    c.req.json = <T>() => Promise.resolve(body as T);
    return next();
  });
}
