/**
 * Clients that leave before the Worker has written its response headers, over a real socket to workerd: the
 * write of the headers fails, and workerd neither aborts the request's signal nor cancels the body stream
 * (docs/workerd.md, §5). The stream must still end within seconds — its concurrency slot free again, its usage
 * recorded as 499 with the tokens computed — instead of holding both until the 60 s stall timeout.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { TINY_EDGE_MODEL as MODEL, useTinyEdgeWorker } from '../fixtures/tiny-edge-worker.ts';
import { workerAdmin } from '../fixtures/worker-admin.ts';

/** Well under the 60 s stall timeout a body nobody reads used to wait for; well over the early bound (2 s). */
const PATIENCE_MS = 15_000;

describe('workerd: a stream whose client left before the headers', () => {
  const worker = useTinyEdgeWorker(29);
  const { tenantWithKey } = workerAdmin(worker);
  const generate = (key: string, body: Record<string, unknown>) =>
    worker().fetch('/v1/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: [4, 5, 6], ...body }),
    });
  const usageOf = async (key: string) =>
    (await (
      await worker().fetch('/v1/usage', { headers: { authorization: `Bearer ${key}` } })
    ).json()) as { requests: number; completionTokens: number };

  test('its slot comes back and it is recorded, within seconds', async () => {
    const { key } = await tenantWithKey({ name: 'early-leaver', max_concurrent: 1 });
    const warm = await generate(key, { max_tokens: 2 });
    assert.equal(warm.status, 200, 'the model answers');
    await warm.arrayBuffer();

    // The whole request, then a close at once: workerd reads it and answers into a closed socket.
    const body = JSON.stringify({ model: MODEL, prompt: [4, 5, 6], max_tokens: 900, stream: true });
    const socket = connect(Number(worker().url.port), worker().url.hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.on('error', () => {});
    socket.write(
      `POST /v1/completions HTTP/1.1\r\nhost: worker\r\nauthorization: Bearer ${key}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    socket.destroy();

    const until = Date.now() + PATIENCE_MS;
    let admitted = false;
    while (!admitted && Date.now() < until) {
      const res = await generate(key, { max_tokens: 1 });
      await res.arrayBuffer();
      admitted = res.status === 200;
      if (!admitted) {
        assert.equal(res.status, 429, 'only the concurrency limit refuses it');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.ok(admitted, `max_concurrent 1: the slot was still taken ${PATIENCE_MS / 1000} s later`);
    const usage = await usageOf(key);
    assert.equal(
      usage.requests,
      3,
      'the warm-up, the dropped stream and the probe are all recorded',
    );
  });
});
