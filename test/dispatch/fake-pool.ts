/**
 * A small real HTTP server speaking backends/gpu/protocol.ts (and an OpenAI-compatible /v1/completions), for
 * the pool client's tests: it runs the real decode loop on the tiny model, and a per-request script can refuse,
 * stall, break or stream it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decode, type BlockRunner, type DecodeOptions } from '../../src/decode/index.ts';
import { GENERATE_PATH, MODEL_PATH, type GenerateRequest, type ModelDescription, type PoolEvent } from '../../backends/gpu/protocol.ts';
import type { TextCodec } from '../../src/model/text-codec.ts';

export const SECRET = 'test-pool-secret';

export interface Received {
  path: string;
  body: Record<string, unknown> | null;
  authorization: string | undefined;
  /** Resolves true when the client went away before the response ended. */
  closedEarly: Promise<boolean>;
}

/** What to do with one request: undefined = serve it normally. */
export type Script = (n: number, req: Received) =>
  | undefined
  | { status: number; retryAfter?: number; body?: unknown }
  | { stall: true }
  | { destroy: 'before-headers' | 'after-headers' }
  | { breakAfterEvents: number }
  | { stallAfterEvents: number }
  | { events: PoolEvent[] }
  | { slowMs: number };

export interface FakePool {
  url: string;
  received: Received[];
  script: Script;
  /** Generate requests seen. */
  generates(): Received[];
  close(): Promise<void>;
}

export interface FakePoolOptions {
  id: string;
  runner: BlockRunner;
  codec: TextCodec;
  /** A package dir with tokenizer.json and tokenizer_config.json. */
  dir: string;
  script?: Script;
  port?: number;
}

export function toDecodeOptions(o: GenerateRequest['options']): DecodeOptions {
  return {
    maxTokens: o.max_tokens,
    ...(o.block_length !== undefined ? { blockLength: o.block_length } : {}),
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
    ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.top_k !== undefined ? { topK: o.top_k } : {}),
    ...(o.top_p !== undefined ? { topP: o.top_p } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.eos_early_stop !== undefined ? { eosEarlyStop: o.eos_early_stop } : {}),
    ...(o.strategy !== undefined ? { algorithm: o.strategy } : {}),
  };
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) as Record<string, unknown> : null;
}

const sse = (res: ServerResponse, data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);

export async function startFakePool(opts: FakePoolOptions): Promise<FakePool> {
  const description: ModelDescription = {
    id: opts.id,
    info: opts.runner.info,
    tokenizer: JSON.parse(await readFile(join(opts.dir, 'tokenizer.json'), 'utf8')),
    tokenizer_config: JSON.parse(await readFile(join(opts.dir, 'tokenizer_config.json'), 'utf8')),
  };
  const received: Received[] = [];
  let count = 0;
  const pool: FakePool = {
    url: '', received, script: opts.script ?? (() => undefined),
    generates: () => received.filter((r) => r.path === GENERATE_PATH || r.path === '/v1/completions'),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      const body = req.method === 'POST' ? await readBody(req) : null;
      const closedEarly = new Promise<boolean>((resolve) => res.on('close', () => resolve(!res.writableFinished)));
      const r: Received = { path, body, authorization: req.headers.authorization, closedEarly };
      received.push(r);
      if (path === '/health') { res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}'); return; }
      if (req.headers.authorization !== `Bearer ${SECRET}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'bad secret', type: 'authentication_error', code: null } }));
        return;
      }
      if (path === MODEL_PATH) { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(description)); return; }
      const step = pool.script(count++, r);
      if (step && 'status' in step) {
        res.writeHead(step.status, { 'content-type': 'application/json', ...(step.retryAfter !== undefined ? { 'retry-after': String(step.retryAfter) } : {}) });
        res.end(JSON.stringify(step.body ?? { error: { message: `scripted ${step.status}`, type: step.status === 503 ? 'service_unavailable_error' : 'server_error', code: null } }));
        return;
      }
      if (step && 'destroy' in step && step.destroy === 'before-headers') { req.socket.destroy(); return; }
      if (step && 'stall' in step) return; // never answers
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      if (step && 'destroy' in step) { setTimeout(() => req.socket.destroy(), 10); return; }
      if (step && 'events' in step) { for (const e of step.events) sse(res, e); res.end(); return; }
      if (path === '/v1/completions') { await serveCompletions(res, body!, opts); return; }
      const request = body as unknown as GenerateRequest;
      const ac = new AbortController();
      res.on('close', () => ac.abort());
      let sent = 0;
      for await (const event of decode(opts.runner, request.prompt_ids, { ...toDecodeOptions(request.options), signal: ac.signal })) {
        if (event.type === 'step' && !request.denoise) continue;
        if (step && 'breakAfterEvents' in step && sent === step.breakAfterEvents) { req.socket.destroy(); return; }
        if (step && 'stallAfterEvents' in step && sent === step.stallAfterEvents) return;
        if (step && 'slowMs' in step) await new Promise((resolve) => setTimeout(resolve, step.slowMs));
        if (res.destroyed) return;
        sse(res, event);
        sent++;
      }
      res.end();
    })().catch((e: unknown) => { res.destroy(); console.error('fake pool:', e); });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  pool.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return pool;
}

/** SGLang-style /v1/completions: one chunk of text per finished block, then [DONE]. */
async function serveCompletions(res: ServerResponse, body: Record<string, unknown>, opts: FakePoolOptions): Promise<void> {
  const options: DecodeOptions = {
    maxTokens: body.max_tokens as number, temperature: (body.temperature as number | undefined) ?? 0,
    ...(body.seed !== undefined ? { seed: body.seed as number } : {}),
  };
  const ids: number[] = [];
  let emitted = '';
  for await (const event of decode(opts.runner, body.prompt as number[], options)) {
    if (event.type === 'block') {
      ids.push(...event.tokens);
      const text = opts.codec.decode(ids);
      // Like a server's detokenizer: hold back an incomplete UTF-8 tail.
      if (!text.endsWith('\uFFFD') && text.length > emitted.length) {
        sse(res, { id: 'cmpl-x', object: 'text_completion', choices: [{ index: 0, text: text.slice(emitted.length), finish_reason: null }] });
        emitted = text;
      }
    }
    if (event.type === 'done') {
      const text = opts.codec.decode(event.result.tokens);
      sse(res, { id: 'cmpl-x', object: 'text_completion', choices: [{ index: 0, text: text.slice(emitted.length), finish_reason: event.result.finishReason === 'stop' ? 'stop' : 'length' }] });
    }
  }
  res.write('data: [DONE]\n\n');
  res.end();
}
