import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { UsageRecord } from '../../api/tenancy.ts';
import { UsageQueue } from './usage-queue.ts';

const record = (requestId: string): UsageRecord => ({
  tenantId: 'ten_a',
  keyId: 'key_1',
  requestId,
  model: 'm',
  backend: 'edge',
  promptTokens: 1,
  completionTokens: 2,
  status: 200,
  durationMs: 3,
  at: 4,
});

test('records pushed while a batch is written go in the next batch; nothing is lost or repeated', async () => {
  const batches: string[][] = [];
  const forgotten: string[][] = [];
  let unblock!: () => void;
  const blocked = new Promise<void>((resolve) => (unblock = resolve));
  const queue = new UsageQueue(
    [],
    async (records) => {
      batches.push(records.map((r) => r.requestId));
      if (batches.length === 1) await blocked;
    },
    (records) => forgotten.push(records.map((r) => r.requestId)),
  );
  queue.push(record('a'));
  const first = queue.flush();
  queue.push(record('b'));
  queue.push(record('c'));
  const second = queue.flush();
  unblock();
  await Promise.all([first, second]);
  assert.deepEqual(batches, [['a'], ['b', 'c']]);
  assert.equal(queue.size, 0);
  assert.deepEqual(forgotten, batches, 'each batch forgotten once it is in D1');
});

test('a failed write keeps the records for the retry', async () => {
  let fail = true;
  const written: string[] = [];
  const queue = new UsageQueue(
    [record('a')],
    async (records) => {
      if (fail) throw new Error('D1 down');
      written.push(...records.map((r) => r.requestId));
    },
    () => assert.ok(!fail, 'nothing forgotten before it is written'),
  );
  await assert.rejects(queue.flush(), /D1 down/);
  assert.equal(queue.size, 1);
  fail = false;
  await queue.flush();
  assert.deepEqual(written, ['a']);
  assert.equal(queue.size, 0);
});
