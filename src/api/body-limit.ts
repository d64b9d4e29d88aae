/**
 * Request body limit with the OpenAI 413 envelope, for the API and the admin routes. Unlike answering as soon as
 * the limit is passed, it reads and discards the rest of an oversized body (up to `drainBytes`, within
 * `drainMs`) before answering: a client still sending would otherwise see its connection reset instead of the
 * 413 (Node's fetch reports "fetch failed"). Bodies beyond the drain bound are answered at once with
 * `connection: close`. A body with a content-encoding (gzip, …) is refused with 415.
 */
import { createMiddleware } from 'hono/factory';
import { ApiError } from './api-error.ts';

export interface BodyLimitOptions {
  maxBytes: number;
  /** Bytes of an oversized body read and discarded so the client receives the 413. Default 64 MiB. */
  drainBytes?: number;
  /** The longest a drain may take. Default 30 s. */
  drainMs?: number;
}

/** The body length a request declares: null when it is chunked or gives none. */
export function declaredLength(request: Request): number | null {
  if (request.headers.get('transfer-encoding')) return null;
  const declared = Number.parseInt(request.headers.get('content-length') ?? '', 10);
  return Number.isFinite(declared) ? declared : null;
}

export const tooLarge = (maxBytes: number, headers: Record<string, string> = {}) =>
  new ApiError(413, 'invalid_request_error', `request body exceeds ${maxBytes} bytes`, {
    code: 'request_too_large',
    headers,
  });

/**
 * A compressed body: refused (RFC 9110 §15.5.16) rather than parsed as if it were plain, or decompressed past the
 * body limit's reach (a small gzip can inflate to gigabytes).
 */
const compressed = (encoding: string) =>
  new ApiError(
    415,
    'invalid_request_error',
    `request bodies are not accepted with content-encoding ${encoding}: send the body uncompressed`,
    { code: 'unsupported_content_encoding' },
  );

/** A body that broke off (its client went away mid-way): the client's fault, never a 500. */
const unreadable = () =>
  new ApiError(400, 'invalid_request_error', 'the request body could not be read to its end', {
    code: 'body_unreadable',
    headers: { connection: 'close' },
  });

/**
 * Reads and drops what is left of a body; false when it is larger than `maxBytes`, slower than `maxMs` in all, or
 * (with `idleMs`) stalled that long without a byte.
 */
async function drain(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  maxBytes: number,
  maxMs: number,
  idleMs = maxMs,
): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  let read = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    for (;;) {
      const wait = Math.min(idleMs, deadline - Date.now());
      if (wait <= 0) return false;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), wait);
      });
      const chunk = await Promise.race([reader.read(), timeout]);
      clearTimeout(timer);
      if (chunk === 'timeout') return false;
      if (chunk.done) return true;
      read += chunk.value.length;
      if (read > maxBytes) return false;
    }
  } catch {
    return false; // the client went away: nobody to answer
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
}

/**
 * How an answer given before the body was read waits for it: while it keeps coming (a busy server reads a 1 MiB body
 * slowly), for at most 30 s as an oversized body is drained, and not past 2 s without a byte. Bodies past the body
 * limit never get that far: the byte bound only stops one that lied about its length.
 */
export const DISCARD_UNREAD = { maxBytes: 64 << 20, maxMs: 30_000, idleMs: 2_000 } as const;

/**
 * Reads and drops a request's unread body, so that an answer sent before it (a refusal that never needed the body)
 * reaches a client still sending instead of a connection reset. False when the body was larger than `maxBytes`,
 * took longer than `maxMs` or stalled for `idleMs`: answer it with `connection: close`.
 */
export async function discardBody(
  request: Request,
  { maxBytes, maxMs, idleMs }: { maxBytes: number; maxMs: number; idleMs: number },
): Promise<boolean> {
  if (!request.body || request.bodyUsed) return true;
  if ((declaredLength(request) ?? 0) > maxBytes) return false; // never worth reading
  return drain(request.body.getReader(), maxBytes, maxMs, idleMs);
}

/** @example app.use('/v1/*', bodyLimit({ maxBytes: 1 << 20 })) */
export function bodyLimit({ maxBytes, drainBytes = 64 << 20, drainMs = 30_000 }: BodyLimitOptions) {
  return createMiddleware(async function bodyLimit(c, next) {
    const body = c.req.raw.body;
    if (!body) return next();
    const encoding = c.req.header('content-encoding')?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') throw compressed(encoding.slice(0, 40));
    const declared = declaredLength(c.req.raw);
    if (declared !== null) {
      if (declared <= maxBytes) return next();
      if (declared > drainBytes) throw tooLarge(maxBytes, { connection: 'close' });
      const drained = await drain(body.getReader(), drainBytes, drainMs);
      throw tooLarge(maxBytes, drained ? {} : { connection: 'close' });
    }
    // No length given (chunked): read up to the limit, keeping what was read for the handler.
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read().catch(() => {
        throw unreadable();
      });
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        const drained = await drain(reader, drainBytes - size, drainMs);
        throw tooLarge(maxBytes, drained ? {} : { connection: 'close' });
      }
      chunks.push(value);
    }
    const whole = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      whole.set(chunk, at);
      at += chunk.length;
    }
    c.req.raw = new Request(c.req.raw, { body: whole });
    return next();
  });
}
