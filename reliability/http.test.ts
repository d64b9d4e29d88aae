import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { send } from './http.ts';

/** SSE frames like the API's: a role chunk, then content for two choices, then [DONE]. */
const FRAMES = [
  { choices: [{ index: 0, delta: { role: 'assistant' } }] },
  { choices: [{ index: 0, delta: { content: 'ab' } }] },
  { choices: [{ index: 1, text: 'xy' }] },
  { choices: [{ index: 0, delta: { content: 'cd' } }] },
];

describe('the attacking client', () => {
  let server: http.Server;
  let url: string;
  const closed: string[] = [];

  before(async () => {
    server = http.createServer(async (req, res) => {
      req.resume();
      await new Promise((r) => req.on('end', r));
      res.on('close', () => closed.push(`${req.url} ${res.writableFinished ? 'finished' : 'cut'}`));
      if (req.url === '/json') {
        res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_1' });
        res.end('{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}');
      } else if (req.url === '/reset') {
        req.socket.destroy();
      } else {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_2' });
        for (const f of FRAMES) {
          res.write(`data: ${JSON.stringify(f)}\n\n`);
          await new Promise((r) => setTimeout(r, 30));
        }
        res.write(
          ': keep-alive\n\nevent: denoise\ndata: {"choices":[{"index":0,"text":"no"}]}\n\n',
        );
        res.end('data: [DONE]\n\n');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('a whole stream: content per choice, the request id, [DONE]; denoise frames are not content', async () => {
    const e = await send(url, { path: '/sse', body: {} });
    assert.equal(e.status, 200);
    assert.equal(e.requestId, 'req_2');
    assert.deepEqual(e.content, ['abcd', 'xy']);
    assert.equal(e.done, true);
    assert.equal(e.dropped, false);
    assert.equal(e.transportError, null);
  });

  test('a drop after the role chunk closes the connection: the server sees its response cut', async () => {
    const e = await send(url, {
      path: '/sse-drop',
      body: {},
      drop: { kind: 'afterEvents', events: 1 },
    });
    assert.equal(e.dropped, true);
    assert.deepEqual(e.content, []);
    assert.equal(e.transportError, null);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(closed.includes('/sse-drop cut'), closed.join(', '));
  });

  test('a drop after counted tokens stops reading there', async () => {
    const e = await send(url, {
      path: '/sse',
      body: {},
      drop: { kind: 'afterTokens', tokens: 3, count: (t) => t.length },
    });
    assert.equal(e.dropped, true);
    assert.deepEqual(e.content, ['ab', 'xy']);
  });

  test('JSON answers are parsed; a connection the server resets is a transport error, not a drop', async () => {
    const ok = await send(url, { path: '/json', body: { a: 1 } });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, {
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    });
    const reset = await send(url, { path: '/reset', body: {} });
    assert.equal(reset.status, null);
    assert.equal(reset.dropped, false);
    assert.match(String(reset.transportError), /ECONNRESET|socket hang up/);
  });
});
