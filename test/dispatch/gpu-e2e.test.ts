/**
 * End to end: the real GPU server (scripts/serve-gpu.ts, CPU, tiny model) and the built Worker in workerd
 * (Miniflare) with POOL_CONFIG pointing at it. A request for the pool's model goes through the pool client and
 * gives the in-process loop's text; killing the server mid-stream gives the client an error event and [DONE];
 * a degrade_to_edge tenant is served by the edge while the pool is down; after a restart the pool serves again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generate } from '../../src/decode/index.ts';
import { modelCodec, openModel, type OpenedModel } from '../../backends/node/open-model.ts';
import {
  buildWorker,
  seedPackage,
  startWorker,
  type BuiltWorker,
  type RunningWorker,
} from '../../backends/node/worker-harness.ts';
import { randomIds, tinyFixture, type Fixture } from '../fixtures/export.ts';
import type { TextCodec } from '../../src/model/text-codec.ts';

const SECRET = 'e2e-pool-secret';
const POOL_MODEL = 'big';
const EDGE_MODEL = 'tiny-edge';

interface GpuServer {
  child: ChildProcess;
  url: string;
  ready: Promise<void>;
  exited: Promise<number | null>;
}

/** Spawns the server as one Node process (SIGKILL really kills it); resolves once it listens. */
async function startGpuServer(dir: string, port = 0): Promise<GpuServer> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/serve-gpu.ts',
      '--model',
      dir,
      '--providers',
      'cpu',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--model-id',
      POOL_MODEL,
      '--max-batch',
      '4',
    ],
    {
      env: { ...process.env, GPU_POOL_SECRET: SECRET },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let log = '';
  let onReady: () => void;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (m) resolve(m[1]);
      if (/ready: /.test(log)) onReady();
    });
    void exited.then((code) => reject(new Error(`serve-gpu exited ${code}:\n${log}`)));
  });
  return { child, url, ready, exited };
}

const sseData = (text: string) =>
  text
    .split('\n\n')
    .filter((f) => f.startsWith('data: '))
    .map((f) => f.slice(6));
const textOf = (frames: string[]) =>
  frames
    .filter((d) => d !== '[DONE]')
    .map((d) => JSON.parse(d) as { choices?: { text?: string }[] })
    .map((c) => c.choices?.[0]?.text ?? '')
    .join('');

describe('Worker → GPU pool, end to end (workerd + serve-gpu on CPU)', () => {
  let fx: Fixture;
  let built: BuiltWorker;
  let worker: RunningWorker;
  let server: GpuServer;
  let local: OpenedModel;
  let codec: TextCodec;
  let dir: string;
  let port: number;
  const keys: Record<string, string> = {};

  const call = (key: string, body: Record<string, unknown>) =>
    worker.fetch('/v1/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const tenant = async (name: string, degrade: boolean) => {
    const t = await worker.post('/admin/tenants', { name, degrade_to_edge: degrade });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    const k = await worker.post(`/admin/tenants/${t.body.id}/keys`, {});
    return k.body.key as string;
  };

  before(async () => {
    fx = await tinyFixture({ seed: 37 });
    dir = await fx.pkg('tiny');
    [built, server, local] = await Promise.all([
      buildWorker(),
      startGpuServer(dir),
      openModel(dir),
    ]);
    codec = modelCodec(local);
    port = Number(new URL(server.url).port);
    const config = {
      pools: {
        gpu: {
          members: [server.url],
          retryBudgetMs: 20_000,
          connectTimeoutMs: 5_000,
          idleTimeoutMs: 10_000,
          breaker: { failureThreshold: 3, coolDownMs: 1_000 },
          healthTtlMs: 500,
        },
      },
      routes: { [POOL_MODEL]: { pool: 'gpu', degradeTo: EDGE_MODEL } },
    };
    worker = await startWorker(built, {
      edgeModel: EDGE_MODEL,
      bindings: { POOL_CONFIG: JSON.stringify(config), GPU_POOL_SECRET: SECRET },
    });
    await seedPackage(worker, dir);
    keys.plain = await tenant('plain', false);
    keys.degrade = await tenant('degrade', true);
    await server.ready;
  });
  after(async () => {
    server?.child.kill('SIGKILL');
    await worker?.dispose();
    await built?.cleanup();
    await fx?.cleanup();
  });

  test("the pool model goes through the GPU path: the loop's text, streamed and not; /v1/models and /health list it", async () => {
    const prompt = randomIds(10, local.runner.info.vocabSize - 8, 3);
    const want = codec.decode(
      (await generate(local.runner, prompt, { maxTokens: 24, threshold: 0.9 })).tokens,
    );
    const res = await call(keys.plain, {
      model: POOL_MODEL,
      prompt,
      max_tokens: 24,
      threshold: 0.9,
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as { choices: { text: string }[] }).choices[0].text, want);
    const streamed = await call(keys.plain, {
      model: POOL_MODEL,
      prompt,
      max_tokens: 24,
      threshold: 0.9,
      stream: true,
    });
    const frames = sseData(await streamed.text());
    assert.equal(frames.at(-1), '[DONE]');
    assert.equal(textOf(frames), want);
    const models = (await (
      await worker.fetch('/v1/models', { headers: { authorization: `Bearer ${keys.plain}` } })
    ).json()) as { data: { id: string; backend: string }[] };
    assert.deepEqual(models.data.map((m) => `${m.id}:${m.backend}`).sort(), [
      `${POOL_MODEL}:gpu-pool`,
      `${EDGE_MODEL}:edge-wasm`,
    ]);
    const health = await worker.get('/health');
    assert.deepEqual(
      (health.body.pools as Record<string, { members: { breaker: string }[] }>).gpu.members.map(
        (m) => m.breaker,
      ),
      ['closed'],
    );
  });

  test('server killed mid-stream: error event and [DONE]; degrade tenant → edge; after a restart the pool serves again', async () => {
    const prompt = randomIds(10, local.runner.info.vocabSize - 8, 4);
    // One token per step (threshold 1 never commits early): a long stream to kill in the middle.
    const res = await call(keys.plain, {
      model: POOL_MODEL,
      prompt,
      max_tokens: 900,
      threshold: 1,
      block_length: 4,
      stream: true,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!/"text":"[^"]/.test(text)) {
      const { done, value } = await reader.read();
      assert.ok(!done, 'content before the end');
      text += decoder.decode(value, { stream: true });
    }
    server.child.kill('SIGKILL');
    await server.exited;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      assert.ok(Date.now() < deadline, 'the stream ends (no hang)');
    }
    const frames = sseData(text);
    assert.equal(frames.at(-1), '[DONE]');
    assert.equal(
      (JSON.parse(frames.at(-2)!) as { error: { code: string } }).error.code,
      'backend_disconnected',
    );

    // Pool down: a degrade_to_edge tenant gets the edge model (the same tiny model here, so the same text).
    const small = randomIds(6, local.runner.info.vocabSize - 8, 5);
    const want = codec.decode((await generate(local.runner, small, { maxTokens: 16 })).tokens);
    const degraded = await call(keys.degrade, { model: POOL_MODEL, prompt: small, max_tokens: 16 });
    assert.equal(degraded.status, 200, await degraded.clone().text());
    assert.equal(
      ((await degraded.json()) as { choices: { text: string }[] }).choices[0].text,
      want,
    );
    const refused = await call(keys.plain, { model: POOL_MODEL, prompt: small, max_tokens: 16 });
    assert.equal(refused.status, 503);
    assert.equal(
      ((await refused.json()) as { error: { code: string } }).error.code,
      'backend_unavailable',
    );

    // Restart on the same port: requests succeed again (waited for while it loads: 503 = busy).
    server = await startGpuServer(dir, port);
    await new Promise((r) => setTimeout(r, 1_100)); // past the breaker's cool-down
    const again = await call(keys.plain, {
      model: POOL_MODEL,
      prompt: small,
      max_tokens: 16,
      stream: true,
    });
    const againFrames = sseData(await again.text());
    assert.equal(againFrames.at(-1), '[DONE]');
    assert.equal(textOf(againFrames), want);
  });
});
