import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerTiming, parseServerTiming } from './server-timing.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('ServerTiming adds up each awaited span (also when it throws) and closes with total', async () => {
  const timing = new ServerTiming();
  await timing.time('admission', () => sleep(5));
  await assert.rejects(
    timing.time('admission', async () => {
      await sleep(5);
      throw new Error('refused');
    }),
  );
  const spans = parseServerTiming(timing.header());
  assert.deepEqual(Object.keys(spans), ['admission', 'total']);
  assert.ok(spans.admission >= 9, timing.header());
  assert.ok(spans.total >= spans.admission, timing.header());
});

test('parseServerTiming reads dur from each entry and skips entries without one', () => {
  assert.deepEqual(parseServerTiming('admission;dur=0.80, cache;desc="hit", total;dur=7'), {
    admission: 0.8,
    total: 7,
  });
  assert.deepEqual(parseServerTiming(null), {});
});
