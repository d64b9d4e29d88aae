import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sseData, takeEvents } from './sse.ts';

test('takeEvents: data lines joined, comments and event names skipped, the unfinished tail kept', () => {
  const { data, rest } = takeEvents(
    ': keep-alive\n\nevent: x\ndata: {"a":1}\n\ndata: one\ndata: two\r\n\r\ndata: par',
  );
  assert.deepEqual(data, ['{"a":1}', 'one\ntwo']);
  assert.equal(rest, 'data: par');
});

test('sseData: events split across arbitrary chunk boundaries, and a last event without a blank line', async () => {
  const text = 'data: {"x":1}\n\n: ping\n\ndata: [DONE]';
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
      c.close();
    },
  });
  const out: string[] = [];
  for await (const d of sseData(body)) out.push(d);
  assert.deepEqual(out, ['{"x":1}', '[DONE]']);
});
