/** SseSink: a write pending on a body nobody reads is released when the client's request signal aborts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SSEStreamingApi } from 'hono/streaming';
import { ClientGoneError } from '../api-error.ts';
import { SseSink } from './sse-sink.ts';

/** A stream whose writes never complete, as a response body that no client reads. */
function unreadStream(): SSEStreamingApi & { writes: string[] } {
  const writes: string[] = [];
  const stream = {
    writes,
    aborted: false,
    onAbort: () => {},
    abort: () => {
      stream.aborted = true;
    },
    write: (text: string) => {
      writes.push(text);
      return new Promise(() => {});
    },
  };
  return stream as unknown as SSEStreamingApi & { writes: string[] };
}

test('a write blocked on an unread body ends as ClientGoneError when the client disconnects', async () => {
  const client = new AbortController();
  let gone = 0;
  const sink = new SseSink(unreadStream(), {
    keepAliveMs: 60_000,
    stallTimeoutMs: 60_000,
    onGone: () => gone++,
    clientSignal: client.signal,
  });
  const pending = sink.event('{"x":1}');
  setTimeout(() => client.abort(), 10);
  await assert.rejects(pending, ClientGoneError);
  assert.equal(gone, 1);
  await assert.rejects(sink.event('{"x":2}'), ClientGoneError, 'later writes fail at once');
  sink.close();
});

test('a client already gone when the stream starts: the first write fails without waiting', async () => {
  const client = new AbortController();
  client.abort();
  let gone = 0;
  const stream = unreadStream();
  const sink = new SseSink(stream, {
    keepAliveMs: 60_000,
    stallTimeoutMs: 60_000,
    onGone: () => gone++,
    clientSignal: client.signal,
  });
  await assert.rejects(sink.event('{}'), ClientGoneError);
  assert.equal(gone, 1);
  assert.deepEqual(stream.writes, [], 'nothing is written for a client that left');
  sink.close();
});
