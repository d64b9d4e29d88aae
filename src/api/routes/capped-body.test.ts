/**
 * cappedBody on a large body: other work runs between reading, decoding and parsing it (a timer that falls due as
 * its last byte arrives fires before its answer), its steps wait while a model forward waits or runs, and a body
 * that is not JSON, or that cannot be read because its client went away, still gets the validator's 400.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApiApp } from '../app.ts';
import { staticRegistry } from '../engine.ts';
import { StaticTenantStore, openTenant, unlimited } from '../single-tenant.ts';
import { YIELD_ABOVE_BYTES } from './capped-body.ts';
import { beginForeground } from '../foreground.ts';

const KEY = 'sk-unmask-capped-body';
const app = createApiApp({
  engines: staticRegistry([]),
  tenants: new StaticTenantStore({ [KEY]: openTenant('t1') }),
  limiter: unlimited,
});

/**
 * POSTs `body` to the chat route as a stream declaring `contentLength` (with its length given, the body limit
 * leaves the body to cappedBody; chunked, it would read it first).
 */
function postStream(body: ReadableStream<Uint8Array>, contentLength: number) {
  return app.fetch(
    new Request('http://unmask.test/v1/chat/completions', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${KEY}`,
        'content-type': 'application/json',
        'content-length': String(contentLength),
      },
      body,
      duplex: 'half',
    } as RequestInit),
  );
}

/** Posts `text`; `events` gets 'timer' when a 0 ms timer set as the body's last byte is handed over fires. */
async function post(text: string, events: string[]) {
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        controller.enqueue(bytes);
        controller.close();
        setTimeout(() => events.push('timer'), 0);
      },
    },
    { highWaterMark: 0 },
  );
  const res = await postStream(body, bytes.length);
  events.push('answer');
  return {
    status: res.status,
    error: ((await res.json()) as { error: Record<string, unknown> }).error,
  };
}

const turns = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'a' }));

test('a large body lets other work run before its answer; a small one is answered in one go', async () => {
  const large: string[] = [];
  const over = JSON.stringify({ model: 'm', messages: turns(20_000) });
  assert.ok(over.length > YIELD_ABOVE_BYTES);
  const refused = await post(over, large);
  assert.equal(refused.status, 400);
  assert.equal(refused.error.param, 'messages');
  assert.deepEqual(large, ['timer', 'answer']);

  const small: string[] = [];
  const tiny = await post(
    JSON.stringify({ model: 'm', messages: turns(20_001).slice(0, 1) }),
    small,
  );
  assert.equal(tiny.status, 404); // past the caps and the schema: the model does not exist
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(small, ['answer', 'timer']);
});

test("a large body's steps wait while a model forward waits or runs; a small body's do not", async () => {
  const end = beginForeground();
  const events: string[] = [];
  const large = post(JSON.stringify({ model: 'm', messages: turns(20_000) }), events);
  const small = post(JSON.stringify({ model: 'm', messages: turns(1) }), events);
  assert.equal((await small).status, 404);
  // Long enough for the large body's answer without the wait (a few ms), short of its bound (120 ms per step).
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(events.sort(), ['answer', 'timer', 'timer'], 'the small body only is answered');
  events.push('forward ended');
  end();
  assert.equal((await large).status, 400);
  assert.deepEqual(events.slice(3), ['forward ended', 'answer']);
});

test('a large body that is not JSON gets the invalid_json 400', async () => {
  const res = await post(`{"model":"m","messages":[${'1,'.repeat(YIELD_ABOVE_BYTES)}`, []);
  assert.equal(res.status, 400);
  assert.equal(res.error.code, 'invalid_json');
});

test('a body whose client goes away mid-way gets the invalid_json 400, never a 500', async () => {
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('{"model":"m","messages":[{"role":"user",'));
        controller.error(new Error('the client went away'));
      },
    },
    { highWaterMark: 0 },
  );
  const res = await postStream(body, 100_000);
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_json');
});
