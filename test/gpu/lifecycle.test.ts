/**
 * The GPU server process's edges: a full admission queue answers 503 + Retry-After, SIGTERM refuses new work
 * but finishes admitted requests (running and waiting) and exits 0, and kill -9 breaks open streams.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GenerateRequest, PoolEvent } from '../../src/dispatch/pool/protocol.ts';
import { randomIds, tinyFixture, type Fixture } from '../fixtures/export.ts';
import {
  generateRequest,
  metric,
  poolEvents,
  scrape,
  spawnServer,
  until,
} from '../fixtures/gpu-server.ts';

const MODEL = 'tiny-gpu';

const LONG = (seed: number, maxTokens: number): GenerateRequest => ({
  model: MODEL,
  prompt_ids: randomIds(6, 400, seed),
  options: { maxTokens: maxTokens, blockLength: 32, threshold: 1 },
});

async function drainEvents(res: Response): Promise<PoolEvent[]> {
  const out: PoolEvent[] = [];
  for await (const ev of poolEvents(res)) out.push(ev);
  return out;
}

describe('GPU server lifecycle', () => {
  let fx: Fixture;
  let dir: string;

  before(async () => {
    fx = await tinyFixture({ seed: 9 });
    dir = await fx.pkg('fp32', { name: MODEL });
  });
  after(() => fx?.cleanup());

  test('a full queue gets 503 + Retry-After; SIGTERM drains running and waiting requests, then exits 0', async () => {
    const server = await spawnServer({
      model: dir,
      args: ['--max-batch', '1', '--max-queue', '1'],
    });
    try {
      const running = await generateRequest(server.url, LONG(1, 256));
      assert.equal(running.status, 200);
      const runningEvents = drainEvents(running);
      await until(
        async () => metric(await scrape(server.url), 'vllm:num_requests_running') === 1,
        5000,
        'one running',
      );
      const waiting = await generateRequest(server.url, LONG(2, 64));
      assert.equal(waiting.status, 200);
      const waitingEvents = drainEvents(waiting);
      await until(
        async () => metric(await scrape(server.url), 'vllm:num_requests_waiting') === 1,
        5000,
        'one waiting',
      );

      const full = await generateRequest(server.url, LONG(3, 8));
      assert.equal(full.status, 503);
      assert.ok(Number(full.headers.get('retry-after')) >= 1, 'Retry-After');
      const { error } = (await full.json()) as { error: { code: string; type: string } };
      assert.equal(error.code, 'queue_full');
      assert.equal(error.type, 'service_unavailable_error');
      assert.equal(
        metric(await scrape(server.url), 'unmask_requests_rejected_total{reason="queue_full"}'),
        1,
      );

      server.proc.kill('SIGTERM');
      await until(
        async () => (await fetch(`${server.url}/health`)).status === 503,
        3000,
        'health to say draining',
      );
      assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), { status: 'draining' });
      const refused = await generateRequest(server.url, LONG(4, 8));
      assert.equal(refused.status, 503);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'draining');

      for (const [events, n] of [
        [await runningEvents, 256],
        [await waitingEvents, 64],
      ] as const) {
        const last = events.at(-1);
        assert.equal(last?.type, 'done', JSON.stringify(last));
        if (last?.type === 'done') assert.equal(last.result.tokens.length, n);
      }
      assert.equal(await server.exited, 0, server.log());
      assert.match(server.log(), /drained/);
    } finally {
      await server.stop();
    }
  });

  test('kill -9 mid-stream: the server dies and the client sees a broken stream', async () => {
    const server = await spawnServer({ model: dir });
    try {
      const res = await generateRequest(server.url, LONG(5, 960));
      const events = poolEvents(res);
      assert.equal((await events.next()).value?.type, 'block');
      server.proc.kill('SIGKILL');
      assert.equal(await server.exited, 'SIGKILL');
      const seen: PoolEvent[] = [];
      await assert.rejects(async () => {
        for await (const ev of events) seen.push(ev);
      }, 'reading the rest of the stream fails');
      assert.ok(!seen.some((e) => e.type === 'done'), 'no done event');
      await assert.rejects(fetch(`${server.url}/health`), 'nothing listens any more');
    } finally {
      await server.stop();
    }
  });
});
