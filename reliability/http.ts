/**
 * The attacking client: one request on its own TCP connection (node:http, no keep-alive pool), with the ways a
 * hostile or broken client behaves — hang up before the response, after the role chunk, mid-stream or near the
 * end; read slowly or not at all — and a record of what it saw: status, request id, the SSE events and the
 * content delivered per choice, bytes and times. Transport failures are results, never exceptions.
 */
import http from 'node:http';

/**
 * When the client hangs up (`afterEvents` counts SSE data events; the role chunk is event 1), and how: a close
 * (FIN, as a client that gives up or exits does) or, with `reset`, a connection reset (RST).
 */
export type Drop = (
  | { kind: 'afterMs'; ms: number }
  /** As soon as the whole request has been handed to the OS: the server answers a client already gone. */
  | { kind: 'afterSent' }
  | { kind: 'afterEvents'; events: number }
  | { kind: 'afterTokens'; tokens: number; count: (text: string) => number }
) & { reset?: boolean };

export interface SendOptions {
  /** What this request is, for findings (default: method and path). */
  label?: string;
  method?: string;
  path: string;
  key?: string;
  /** A JSON value (serialised), or raw bytes/text sent as is. */
  body?: unknown;
  rawBody?: Buffer | string;
  headers?: Record<string, string>;
  drop?: Drop;
  /** Stop reading after this many bytes of body… */
  pauseAfterBytes?: number;
  /** …for this long (then read on), or forever (until the drop or the timeout) when absent. */
  pauseMs?: number;
  /** Read at most this many bytes per second (a slow reader). */
  readBytesPerSecond?: number;
  /** Hard client timeout: the connection is destroyed (counted as a client drop, not a failure). */
  timeoutMs?: number;
}

export interface Exchange {
  label: string;
  /** The API key it was sent with. */
  key: string | null;
  status: number | null;
  requestId: string | null;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body (non-streaming answers). */
  json: Record<string, unknown> | null;
  /** SSE `data:` payloads parsed as JSON, in order (not `[DONE]`). */
  events: Record<string, unknown>[];
  /** Content delivered per choice index (chat `delta.content` or completions `text`). */
  content: string[];
  done: boolean;
  bytes: number;
  /** The client hung up on purpose (drop or timeout). */
  dropped: boolean;
  /** A transport failure the client did not cause (reset, refused…). */
  transportError: string | null;
  sentAt: number;
  headersAt: number | null;
  /** When the last SSE data event arrived (not `[DONE]`). */
  lastDataAt: number | null;
  endedAt: number;
}

export function isStream(e: Exchange): boolean {
  return /text\/event-stream/.test(String(e.headers['content-type'] ?? ''));
}

/** Delivered content of one SSE payload: [choice index, text] pairs. */
function deltas(payload: Record<string, unknown>): [number, string][] {
  const choices = (payload.choices as Record<string, unknown>[] | undefined) ?? [];
  const out: [number, string][] = [];
  for (const c of choices) {
    const index = Number(c.index ?? 0);
    const text =
      (c.delta as { content?: unknown } | undefined)?.content ?? (c.text as unknown) ?? '';
    if (typeof text === 'string' && text) out.push([index, text]);
  }
  return out;
}

/** An exchange as it stands when its request has been sent and nothing has come back yet. */
export function newExchange(label: string, key: string | null, sentAt: number): Exchange {
  return {
    label,
    key,
    status: null,
    requestId: null,
    headers: {},
    json: null,
    events: [],
    content: [],
    done: false,
    bytes: 0,
    dropped: false,
    transportError: null,
    sentAt,
    headersAt: null,
    lastDataAt: null,
    endedAt: 0,
  };
}

export function send(url: string, o: SendOptions): Promise<Exchange> {
  // Raw bytes are sent as they are (an attack's megabyte body is built once, never copied per request).
  const body =
    o.rawBody !== undefined
      ? typeof o.rawBody === 'string'
        ? Buffer.from(o.rawBody)
        : o.rawBody
      : o.body !== undefined
        ? Buffer.from(JSON.stringify(o.body))
        : null;
  const target = new URL(o.path, url);
  const ex = newExchange(
    o.label ?? `${o.method ?? (body ? 'POST' : 'GET')} ${o.path}`,
    o.key ?? null,
    Date.now(),
  );
  return new Promise((finish) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const end = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      ex.endedAt = Date.now();
      finish(ex);
    };
    const req = http.request(target, {
      method: o.method ?? (body ? 'POST' : 'GET'),
      agent: false,
      headers: {
        ...(o.key ? { authorization: `Bearer ${o.key}` } : {}),
        ...(body && o.rawBody === undefined ? { 'content-type': 'application/json' } : {}),
        ...(body ? { 'content-length': String(body.length) } : {}),
        ...o.headers,
      },
    });
    const hangUp = () => {
      if (settled) return;
      ex.dropped = true;
      if (o.drop?.reset && req.socket) req.socket.resetAndDestroy();
      req.destroy();
      end();
    };
    if (o.timeoutMs) timers.push(setTimeout(hangUp, o.timeoutMs));
    if (o.drop?.kind === 'afterMs') timers.push(setTimeout(hangUp, o.drop.ms));
    if (o.drop?.kind === 'afterSent') req.once('finish', hangUp);
    req.on('error', (e: NodeJS.ErrnoException) => {
      // An error after a complete response (EPIPE while a refused body was still being sent) is not a failure.
      if (!ex.dropped && ex.status === null) ex.transportError = e.code ?? e.message;
      end();
    });
    req.on('response', (res) => {
      ex.status = res.statusCode ?? null;
      ex.headers = res.headers;
      ex.headersAt = Date.now();
      ex.requestId = (res.headers['x-request-id'] as string | undefined) ?? null;
      const sse = isStream(ex);
      let text = '';
      const raw: Buffer[] = [];
      let tokens = 0;
      const onFrame = (frame: string) => {
        const data = frame
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        if (!data) return;
        if (data === '[DONE]') {
          ex.done = true;
          return;
        }
        let payload: Record<string, unknown>;
        try {
          payload = JSON.parse(data) as Record<string, unknown>;
        } catch {
          payload = { unparsed: data };
        }
        ex.events.push(payload);
        ex.lastDataAt = Date.now();
        if (/^event: denoise$/m.test(frame)) return;
        for (const [i, t] of deltas(payload)) {
          ex.content[i] = (ex.content[i] ?? '') + t;
          if (o.drop?.kind === 'afterTokens') tokens += o.drop.count(t);
        }
        if (o.drop?.kind === 'afterEvents' && ex.events.length >= o.drop.events) hangUp();
        if (o.drop?.kind === 'afterTokens' && tokens >= o.drop.tokens) hangUp();
      };
      let paused = false;
      if (o.pauseAfterBytes === 0) {
        paused = true;
        res.pause();
        if (o.pauseMs !== undefined) timers.push(setTimeout(() => res.resume(), o.pauseMs));
      }
      res.on('data', (chunk: Buffer) => {
        ex.bytes += chunk.length;
        if (sse) {
          text += chunk.toString('utf8');
          let i: number;
          while (!settled && (i = text.indexOf('\n\n')) >= 0) {
            onFrame(text.slice(0, i));
            text = text.slice(i + 2);
          }
        } else raw.push(chunk);
        if (settled) return;
        if (o.readBytesPerSecond) {
          res.pause();
          timers.push(setTimeout(() => res.resume(), (1000 * chunk.length) / o.readBytesPerSecond));
        } else if (!paused && o.pauseAfterBytes !== undefined && ex.bytes >= o.pauseAfterBytes) {
          paused = true;
          res.pause();
          if (o.pauseMs !== undefined) timers.push(setTimeout(() => res.resume(), o.pauseMs));
        }
      });
      res.on('end', () => {
        if (!sse && raw.length) {
          try {
            ex.json = JSON.parse(Buffer.concat(raw).toString('utf8')) as Record<string, unknown>;
          } catch {
            ex.json = null;
          }
        }
        end();
      });
      res.on('error', (e: NodeJS.ErrnoException) => {
        if (!ex.dropped) ex.transportError = e.code ?? e.message;
        end();
      });
      res.on('close', () => {
        if (!settled && !res.complete && !ex.dropped) ex.transportError = 'response cut short';
        end();
      });
    });
    if (body) req.end(body);
    else req.end();
  });
}

/** The error code of an OpenAI-shaped error body (`error.code`), or null. */
export function errorCode(e: Exchange): string | null {
  const err = (e.json?.error ?? e.events.find((x) => x.error)?.error) as
    { code?: string | null } | undefined;
  return err?.code ?? null;
}

/** usage of a non-streaming answer or of a stream's usage chunk. */
export function usageOf(e: Exchange): {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
} | null {
  const u = (e.json?.usage ?? e.events.find((x) => x.usage)?.usage) as
    { prompt_tokens: number; completion_tokens: number; total_tokens: number } | undefined;
  return u ?? null;
}
