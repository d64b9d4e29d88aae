/**
 * The body limit over a real socket (Node's HTTP server and fetch): an oversized body gets the 413 envelope,
 * never a connection reset, because the rest of the body is read before the answer; a body within the limit
 * reaches the handler whole, chunked or not; a compressed body is refused (415).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from './body-limit.ts';
import { renderErrors } from './errors.ts';

let server: Server;
let url: string;
before(async () => {
  const app = new Hono();
  app.onError(renderErrors());
  app.use('*', bodyLimit({ maxBytes: 1 << 20 }));
  app.post('/echo', async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }));
  server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('a 12 MB body always gets the documented 413, never a reset', async () => {
  const body = JSON.stringify({ prompt: 'x'.repeat(12 << 20) });
  for (let i = 0; i < 8; i++) {
    const res = await fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(res.status, 413);
    assert.equal(
      ((await res.json()) as { error: { code: string } }).error.code,
      'request_too_large',
    );
  }
});

test('a chunked body over the limit gets the 413; bodies within it arrive whole', async () => {
  const stream = (bytes: number) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (let sent = 0; sent < bytes; sent += 64 << 10)
          controller.enqueue(new Uint8Array(Math.min(64 << 10, bytes - sent)));
        controller.close();
      },
    });
  const post = (body: BodyInit) =>
    fetch(`${url}/echo`, { method: 'POST', body, duplex: 'half' } as RequestInit);
  assert.equal((await post(stream(3 << 20))).status, 413);
  const ok = await post(stream(1 << 20));
  assert.deepEqual(await ok.json(), { bytes: 1 << 20 });
  assert.deepEqual(await (await post(new Uint8Array(5000))).json(), { bytes: 5000 });
});

test('a chunked body that breaks off mid-way is a 400 (the client left), not a 500', async () => {
  const app = new Hono();
  app.onError(renderErrors());
  app.use('*', bodyLimit({ maxBytes: 1 << 20 }));
  app.post('/echo', async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }));
  let sent = 0;
  const breaking = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 2) controller.enqueue(new Uint8Array(1000));
      else controller.error(new TypeError('terminated'));
    },
  });
  const res = await app.fetch(
    new Request('http://api.test/echo', {
      method: 'POST',
      body: breaking,
      duplex: 'half',
    } as RequestInit),
  );
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('connection'), 'close');
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'body_unreadable');
});

test('a body declared past the drain bound is answered at once, none of it read', async () => {
  const app = new Hono();
  app.onError(renderErrors());
  app.use('*', bodyLimit({ maxBytes: 1 << 20 }));
  app.post('/echo', (c) => c.json({ unreachable: true }));
  let pulls = 0;
  const endless = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        pulls++;
        controller.enqueue(new Uint8Array(1 << 16));
      },
    },
    { highWaterMark: 0 },
  );
  const res = await app.fetch(
    new Request('http://api.test/echo', {
      method: 'POST',
      headers: { 'content-length': String(128 << 20) },
      body: endless,
      duplex: 'half',
    } as RequestInit),
  );
  assert.equal(res.status, 413);
  assert.equal(res.headers.get('connection'), 'close');
  assert.equal(pulls, 0);
});

test('a compressed body is refused with 415, whether or not it really is compressed; identity passes', async () => {
  const { gzipSync } = await import('node:zlib');
  const json = JSON.stringify({ prompt: 'hello' });
  for (const [encoding, body] of [
    ['gzip', gzipSync(json)],
    ['gzip', Buffer.from(json)],
    ['br', Buffer.from(json)],
  ] as const) {
    const res = await fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      body,
    });
    assert.equal(res.status, 415, encoding);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'unsupported_content_encoding');
    assert.match(error.message, new RegExp(`content-encoding ${encoding}`));
  }
  const plain = await fetch(`${url}/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-encoding': 'identity' },
    body: json,
  });
  assert.equal(plain.status, 200);
});
