import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTable, Tally, toJson } from './figures.ts';
import { newExchange, type Exchange } from './http.ts';

const exchange = (o: Partial<Exchange>): Exchange => ({
  ...newExchange('POST /v1/completions', null, 0),
  status: 200,
  ...o,
});

test('a tally counts requests, 5xx and cut connections, and fails on any must-be-zero figure', () => {
  const t = new Tally('node');
  t.observe(exchange({}), 'limits');
  assert.equal(t.failed(), false);
  t.observe(exchange({ status: 503 }), 'limits');
  t.observe(exchange({ status: null, transportError: 'ECONNRESET' }), 'crash', true);
  assert.equal(t.counts.requests, 3);
  assert.equal(t.counts.serverErrors, 1);
  assert.equal(t.counts.transportErrors, 0, 'a cut the suite caused (kill -9) is not counted');
  assert.equal(t.failed(), true);
});

test('repeats of one failure fold into one finding; the table shows both deployments and the findings', () => {
  const node = new Tally('node');
  const worker = new Tally('worker');
  worker.fail(
    'disconnects',
    'tokensNotCharged',
    107,
    'stream dropped mid-stream: 107 delivered, 0 charged',
  );
  worker.fail(
    'disconnects',
    'tokensNotCharged',
    90,
    'stream dropped mid-stream: 90 delivered, 0 charged',
  );
  worker.fail('disconnects', 'stuckSlots', 1, 'max_concurrent 1: refused for 2 s');
  worker.measure('p50IdleMs', 12.34);
  assert.equal(worker.findings.length, 2);
  assert.equal(worker.findings[0].count, 197);
  assert.equal(worker.findings[0].times, 2);
  const table = renderTable([node, worker], 'test machine');
  assert.match(table, /\| figure \| node \| worker \|/);
  assert.match(table, /\| tokens delivered but not charged ⁰ \| 0 \| 197 \|/);
  assert.match(table, /\| p50 latency idle \(ms\) \| – \| 12\.3 \|/);
  assert.match(table, /✗ worker disconnects: stuck concurrency slots \+1: max_concurrent 1/);
  const json = toJson([node, worker], 'test machine', 'default') as {
    failed: boolean;
    deployments: Record<string, { counts: Record<string, number> }>;
  };
  assert.equal(json.failed, true);
  assert.equal(json.deployments.worker.counts.stuckSlots, 1);
});

test('known gaps are shown without failing the run; every other counter must be zero', () => {
  const worker = new Tally('worker');
  worker.fail(
    'disconnects',
    'knownGaps',
    1,
    'stream dropped mid-stream (connection reset): no record',
  );
  assert.equal(worker.failed(), false);
  assert.match(renderTable([worker], 'test machine'), /\| known gaps[^|⁰]*\| 1 \|/);
  worker.fail('disconnects', 'stuckSlots', 1, 'max_concurrent 1: refused for 5 s');
  assert.equal(worker.failed(), true);
});
