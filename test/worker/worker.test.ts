/**
 * The built Worker (wrangler deploy --dry-run output) in workerd via Miniflare, model read from an R2 bucket:
 * /health before and after the lazy load, a failed load that the next request retries, /internal/generate giving
 * exactly the tokens of the Node runner (onnxruntime-node) for greedy, seeded sampling and a chat prompt, and
 * 400 error envelopes for bad input; the S3 source (s3rver) in a second isolate. Prints cold start, per-forward times and the bundle size as diagnostics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';
import { generate, type DecodeOptions } from '../../src/decode/index.ts';
import { modelCodec, openModel, type OpenedModel } from '../../backends/node/open-model.ts';
import {
  buildWorker,
  seedPackage,
  startWorker,
  type BuiltWorker,
  type RunningWorker,
} from '../../backends/node/worker-harness.ts';
import { randomIds, tinyFixture, type Fixture } from '../fixtures/export.ts';
import { S3RVER_CREDENTIALS, startLocalS3 } from '../fixtures/s3rver.ts';

interface GenerateResponse {
  tokens: number[];
  text: string;
  finish_reason: string;
  seed: number;
  stats: { forwards: number; prefillForwards: number; runnerMs: number };
}

const ERROR_KEYS = ['code', 'message', 'param', 'type'];

describe('Worker in workerd (Miniflare; R2 and S3 model sources)', () => {
  let fx: Fixture;
  let dir: string;
  let built: BuiltWorker;
  let worker: RunningWorker;
  let node: OpenedModel;
  let prompt: number[];

  before(async () => {
    [fx, built] = await Promise.all([tinyFixture({ seed: 21 }), buildWorker()]);
    dir = await fx.pkg('fp32');
    [worker, node] = await Promise.all([
      startWorker(built, { edgeModel: 'tiny-edge' }),
      openModel(dir, { runtime: 'node' }),
    ]);
    prompt = randomIds(9, node.runner.info.vocabSize - 8, 5);
  });
  after(async () => {
    await worker?.dispose();
    await built?.cleanup();
    await fx?.cleanup();
  });

  async function compare(
    body: Record<string, unknown>,
    opts: DecodeOptions,
    ids = prompt,
  ): Promise<GenerateResponse> {
    const res = await worker.post('/internal/generate', body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const got = res.body as unknown as GenerateResponse;
    const want = await generate(node.runner, ids, opts);
    assert.deepEqual(got.tokens, want.tokens);
    assert.equal(got.finish_reason, want.finishReason);
    // The route shares the isolate's prefix cache, so a prompt seen before skips its prefill forward.
    assert.equal(
      got.stats.forwards - got.stats.prefillForwards,
      want.stats.forwards - want.stats.prefillForwards,
    );
    return got;
  }

  test('health before any load: not loaded, and the public health names no package location', async () => {
    const { status, body } = await worker.get('/health');
    assert.equal(status, 200);
    assert.equal(body.status, 'idle');
    assert.equal(body.loaded, false);
    assert.equal(body.state, 'idle');
    assert.equal(body.model, 'tiny-edge');
    assert.equal(body.source, undefined);
  });

  test('a load that fails (empty bucket) → 503 everywhere; details only for the operator; the next request retries', async () => {
    const res = await worker.post('/internal/generate', { prompt_ids: prompt, max_tokens: 8 });
    assert.equal(res.status, 503);
    assert.deepEqual(Object.keys(res.body.error as object).sort(), ERROR_KEYS);
    assert.doesNotMatch(JSON.stringify(res.body), /r2:|manifest/);
    const health = await worker.get('/health');
    assert.equal(health.status, 503, 'never "ok" while the model failed');
    assert.equal(health.body.status, 'failed');
    assert.equal(health.body.error, undefined);
    assert.doesNotMatch(JSON.stringify(health.body), /r2:|manifest/);
    const operator = await worker.get('/internal/health'); // admin token: retries the load, then reports
    assert.equal(operator.status, 503);
    assert.equal(operator.body.source, 'r2://MODELS/pkg');
    assert.match(String(operator.body.error), /manifest\.json/);
    await seedPackage(worker, dir);
  });

  test('greedy, two concurrent cold requests sharing one load: same tokens as ORT-node', async (t) => {
    const body = { prompt_ids: prompt, max_tokens: 40, block_length: 8, threshold: 0.9 };
    const t0 = performance.now();
    const [a, b] = await Promise.all([
      worker.post('/internal/generate', body),
      worker.post('/internal/generate', body),
    ]);
    const coldMs = performance.now() - t0;
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.deepEqual(b.body.tokens, a.body.tokens);
    const r = await compare(body, { maxTokens: 40, blockLength: 8, threshold: 0.9 });
    assert.deepEqual(r.tokens, a.body.tokens);
    const health = await worker.get('/health');
    t.diagnostic(
      `cold (2 concurrent requests) ${coldMs.toFixed(0)} ms wall; load ${JSON.stringify(health.body.load)}; wasm heap ${health.body.heapBytes} B`,
    );
    const cold = a.body.stats as GenerateResponse['stats'];
    t.diagnostic(
      `workerd ${(cold.runnerMs / cold.forwards).toFixed(2)} ms/forward in the cold request, ${(r.stats.runnerMs / r.stats.forwards).toFixed(2)} warm (${r.stats.forwards} forwards)`,
    );
  });

  test('seeded sampling: same tokens as ORT-node', async () => {
    const opts = {
      maxTokens: 40,
      blockLength: 8,
      threshold: 0.8,
      temperature: 0.9,
      topK: 20,
      topP: 0.9,
      seed: 7,
    };
    const r = await compare(
      {
        prompt_ids: prompt,
        max_tokens: 40,
        block_length: 8,
        threshold: 0.8,
        temperature: 0.9,
        top_k: 20,
        top_p: 0.9,
        seed: 7,
      },
      opts,
    );
    assert.equal(r.seed, 7);
  });

  test('text prompt through the chat template: same ids and tokens as Node', async () => {
    const codec = modelCodec(node);
    const ids = codec.encode(codec.applyChatTemplate([{ role: 'user', content: 'hello edge' }]));
    const r = await compare(
      { prompt: 'hello edge', chat: true, max_tokens: 16, mode: 'reference' },
      { maxTokens: 16, mode: 'reference' },
      ids,
    );
    assert.equal(r.text, codec.decode(r.tokens));
  });

  test('health after load: ready, package and heap reported', async () => {
    const { status, body } = await worker.get('/health');
    assert.equal(status, 200);
    assert.equal(body.status, 'ok');
    assert.equal(body.loaded, true);
    assert.equal(body.state, 'ready');
    assert.equal(body.package, node.manifest.name);
    assert.ok(Number(body.heapBytes) > 0, `heapBytes ${body.heapBytes}`);
  });

  test('bad input → 400 OpenAI error envelope, never 500', async () => {
    const cases: [unknown, string | null][] = [
      ['{not json', null],
      [{ prompt_ids: prompt }, 'max_tokens'],
      [{ prompt_ids: prompt, max_tokens: 8, temprature: 1 }, null],
      [{ prompt_ids: prompt, max_tokens: -1 }, 'max_tokens'],
      [{ prompt_ids: prompt, max_tokens: 8, threshold: 2 }, 'threshold'],
      [{ prompt_ids: prompt, max_tokens: 8, top_k: 1.5 }, 'top_k'],
      [{ prompt_ids: [1, node.manifest.tokens.mask_id], max_tokens: 8 }, 'prompt_ids'],
      [{ prompt_ids: [1, 1e6], max_tokens: 8 }, 'prompt_ids'],
      [{ prompt_ids: prompt, prompt: 'x', max_tokens: 8 }, 'prompt'],
      [{ prompt_ids: prompt, chat: true, max_tokens: 8 }, 'chat'],
      [{ prompt_ids: prompt, max_tokens: 8, mode: 'fast' }, 'mode'],
      [[1, 2], null],
    ];
    for (const [body, param] of cases) {
      const res = await worker.fetch('/internal/generate', {
        method: 'POST',
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const json = (await res.json()) as { error: Record<string, unknown> };
      assert.equal(
        res.status,
        400,
        `${JSON.stringify(body)} → ${res.status} ${JSON.stringify(json)}`,
      );
      assert.deepEqual(Object.keys(json.error).sort(), ERROR_KEYS);
      assert.equal(json.error.type, 'invalid_request_error');
      if (param) assert.equal(json.error.param, param, JSON.stringify(json));
    }
    const missing = await worker.get('/nope');
    assert.equal(missing.status, 404);
    assert.equal((missing.body.error as Record<string, unknown>).type, 'invalid_request_error');
  });

  test('S3 source (MODEL_SOURCE=s3, s3rver, SigV4 keys as bindings): same greedy tokens', async () => {
    const s3 = await startLocalS3('edge-models');
    const aws = new AwsClient({ ...S3RVER_CREDENTIALS, service: 's3', region: 'us-east-1' });
    for (const name of await readdir(dir)) {
      const res = await aws.fetch(`${s3.endpoint}/edge-models/tiny/${name}`, {
        method: 'PUT',
        body: new Uint8Array(await readFile(join(dir, name))),
      });
      assert.ok(res.ok, `PUT ${name}: ${res.status}`);
    }
    const s3Worker = await startWorker(built, {
      prefix: 'tiny',
      bindings: {
        MODEL_SOURCE: 's3',
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: 'edge-models',
        S3_REGION: 'us-east-1',
        S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      },
    });
    try {
      const res = await s3Worker.post('/internal/generate', {
        prompt_ids: prompt,
        max_tokens: 24,
        block_length: 8,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const want = await generate(node.runner, prompt, { maxTokens: 24, blockLength: 8 });
      assert.deepEqual(res.body.tokens, want.tokens);
      assert.equal((await s3Worker.get('/internal/health')).body.source, 's3://edge-models/tiny');
    } finally {
      await s3Worker.dispose();
      await s3.stop();
    }
  });
});
