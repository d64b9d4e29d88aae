/** SseSink: a write pending on an unread body ends when the client leaves, or soon within the first bytes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SSEStreamingApi } from 'hono/streaming';
import { ClientGoneError } from '../api-error.ts';
import { EARLY_BYTES, SseSink } from './sse-sink.ts';

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

/** A body the runtime reads `reads` times and then never again (its reader gone without cancelling it). */
function abandonedAfter(reads: number): SSEStreamingApi & { writes: string[] } {
  const stream = unreadStream();
  const never = stream.write;
  stream.write = (text: string) =>
    stream.writes.length < reads
      ? (stream.writes.push(text), Promise.resolve(stream))
      : never(text);
  return stream;
}

test('a body nobody reads any more within its first bytes is ended after the early stall timeout', async () => {
  let gone = 0;
  const stream = abandonedAfter(1);
  const sink = new SseSink(stream, {
    keepAliveMs: 60_000,
    stallTimeoutMs: 60_000,
    earlyStallTimeoutMs: 40,
    onGone: () => gone++,
  });
  await sink.event('{"role":"assistant"}');
  await assert.rejects(sink.event('{"x":1}'), ClientGoneError);
  assert.equal(gone, 1);
  assert.equal(stream.aborted, true, 'the stream is aborted, dropping what it queued');
  sink.close();
});

test('past the first EARLY_BYTES a pending write waits for the stall timeout, not the early one', async () => {
  let gone = 0;
  const stream = abandonedAfter(1);
  const sink = new SseSink(stream, {
    keepAliveMs: 60_000,
    stallTimeoutMs: 400,
    earlyStallTimeoutMs: 20,
    onGone: () => gone++,
  });
  await sink.event('x'.repeat(EARLY_BYTES));
  const pending = sink.event('{"x":1}');
  const early = await Promise.race([
    pending.then(
      () => 'written',
      () => 'gone',
    ),
    new Promise((r) => setTimeout(() => r('still waiting'), 100)),
  ]);
  assert.equal(early, 'still waiting', 'a slow reader past the first bytes is not cut early');
  await assert.rejects(pending, ClientGoneError);
  assert.equal(gone, 1);
  sink.close();
});
