/**
 * The OpenAI API in the real runtime: the built Worker in workerd (Miniflare) with D1 tenants and the
 * per-tenant Durable Object limiter, driven by the official openai client. Same tokens as the Node runner;
 * tenant isolation; revoke → the very next request 401; rate and concurrency limits → 429, then recovery.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { generate } from '../../src/decode/index.ts';
import { modelCodec, openModel, type OpenedModel } from '../../backends/node/open-model.ts';
import {
  buildWorker,
  seedPackage,
  startWorker,
  type BuiltWorker,
  type RunningWorker,
} from '../../backends/node/worker-harness.ts';
import { workerAdmin } from '../fixtures/worker-admin.ts';
import { randomIds, tinyFixture, type Fixture } from '../fixtures/export.ts';
import type { TextCodec } from '../../src/model/text-codec.ts';

const MODEL = 'tiny-edge';

describe('OpenAI API in workerd (D1 tenants, Durable Object limits)', () => {
  let fx: Fixture;
  let built: BuiltWorker;
  let worker: RunningWorker;
  let node: OpenedModel;
  let codec: TextCodec;

  const { admin, tenantWithKey } = workerAdmin(() => worker);
  const clientFor = (key: string) =>
    new OpenAI({
      apiKey: key,
      baseURL: 'http://worker/v1',
      maxRetries: 0,
      fetch: async (url: string | URL | Request, init?: RequestInit) =>
        worker.fetch(new URL(String(url)).pathname, init),
    });
  const expectStatus = async (p: Promise<unknown>, status: number, code?: string) => {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof OpenAI.APIError, String(e));
      assert.equal(e.status, status);
      if (code) assert.equal(e.code, code);
      return true;
    });
  };

  before(async () => {
    [fx, built] = await Promise.all([tinyFixture({ seed: 23 }), buildWorker()]);
    const dir = await fx.pkg('fp32');
    worker = await startWorker(built, { edgeModel: MODEL });
    await seedPackage(worker, dir);
    node = await openModel(dir);
    codec = modelCodec(node);
  });
  after(async () => {
    await worker?.dispose();
    await built?.cleanup();
    await fx?.cleanup();
  });

  test("completions and chat give the Node runner's tokens; streaming; usage counts", async () => {
    const { key } = await tenantWithKey({ name: 'acme' });
    const client = clientFor(key);
    const prompt = randomIds(10, node.runner.info.vocabSize - 8, 3);
    const want = await generate(node.runner, prompt, { maxTokens: 24, threshold: 0.9 });
    const got = await client.completions.create({
      model: MODEL,
      prompt,
      max_tokens: 24,
      threshold: 0.9,
    } as never);
    assert.equal(got.choices[0].text, codec.decode(want.tokens));
    assert.equal(got.usage!.prompt_tokens, 10);

    const messages = [{ role: 'user' as const, content: 'hello edge' }];
    const chatIds = codec.encode(codec.applyChatTemplate(messages));
    const chatWant = await generate(node.runner, chatIds, {
      maxTokens: 20,
      temperature: 0.7,
      seed: 11,
    });
    const chat = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 20,
      temperature: 0.7,
      seed: 11,
    });
    assert.equal(chat.choices[0].message.content, codec.decode(chatWant.tokens));
    assert.equal(chat.usage!.prompt_tokens, chatIds.length);

    const stream = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 20,
      temperature: 0.7,
      seed: 11,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    assert.equal(text, chat.choices[0].message.content);
    const { prompt_tokens_details: _chatCached, ...chatCounts } = chat.usage!;
    const { prompt_tokens_details: streamCached, ...streamCounts } = usage!;
    assert.deepEqual(streamCounts, chatCounts);
    // The streamed request repeats the prompt: its complete blocks come from the isolate's prefix cache.
    assert.equal(
      streamCached?.cached_tokens,
      Math.floor(chatIds.length / node.runner.info.blockLength) * node.runner.info.blockLength,
    );
  });

  test('tenant isolation: allowed models, own usage only', async () => {
    const a = await tenantWithKey({ name: 'a' });
    const b = await tenantWithKey({ name: 'b', models: ['some-gpu-model'] });
    await clientFor(a.key).completions.create({ model: MODEL, prompt: [5, 6, 7], max_tokens: 4 });
    await expectStatus(
      clientFor(b.key).completions.create({ model: MODEL, prompt: [5, 6, 7], max_tokens: 4 }),
      404,
      'model_not_found',
    );
    assert.deepEqual(
      (await clientFor(b.key).models.list()).data.map((m) => m.id),
      [],
    );
    const usageA = (await (
      await worker.fetch('/v1/usage', { headers: { authorization: `Bearer ${a.key}` } })
    ).json()) as { tenantId: string; requests: number };
    const usageB = (await (
      await worker.fetch('/v1/usage', { headers: { authorization: `Bearer ${b.key}` } })
    ).json()) as { tenantId: string; requests: number; completionTokens: number };
    assert.equal(usageA.tenantId, a.tenantId);
    assert.equal(usageA.requests, 1);
    assert.equal(usageB.tenantId, b.tenantId);
    assert.equal(usageB.completionTokens, 0);
    const adminView = await admin(`/admin/tenants/${a.tenantId}/usage`);
    assert.equal(adminView.status, 200);
  });

  test('revocation is effective on the very next request; errors carry no secrets', async () => {
    const t = await tenantWithKey({ name: 'revoked' });
    const client = clientFor(t.key);
    await client.models.list();
    assert.equal((await admin(`/admin/keys/${t.keyId}`, undefined, 'DELETE')).status, 200);
    await expectStatus(client.models.list(), 401, 'revoked_api_key');
    await expectStatus(clientFor('sk-unmask-not-a-key').models.list(), 401);
    const res = await worker.fetch('/v1/models', { headers: { authorization: `Bearer ${t.key}` } });
    const body = await res.text();
    assert.ok(!body.includes(t.key) && !body.includes(t.key.slice(10)));
    assert.equal(
      (
        await admin('/admin/tenants', { name: 'x' }, 'POST').then(() =>
          worker.fetch('/admin/tenants', {
            method: 'POST',
            headers: { authorization: 'Bearer wrong' },
            body: '{}',
          }),
        )
      ).status,
      401,
    );
  });

  test('rpm limit → 429 with Retry-After and x-ratelimit headers; concurrency limit → 429, then recovery', async () => {
    const r = await tenantWithKey({ name: 'rpm', rpm: 2 });
    const client = clientFor(r.key);
    const ok = await client.completions
      .create({ model: MODEL, prompt: [4, 5], max_tokens: 2 })
      .withResponse();
    assert.equal(ok.response.headers.get('x-ratelimit-limit-requests'), '2');
    assert.match(
      ok.response.headers.get('x-request-id') ?? '',
      /^req_[0-9a-f]{32}$/,
      'workerd responses carry the request id',
    );
    await client.completions.create({ model: MODEL, prompt: [4, 5], max_tokens: 2 });
    const res = await worker.fetch('/v1/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: [4, 5], max_tokens: 2 }),
    });
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.match(res.headers.get('x-request-id') ?? '', /^req_/);
    assert.equal(res.headers.get('x-ratelimit-remaining-requests'), '0');
    assert.equal(
      ((await res.json()) as { error: { code: string } }).error.code,
      'rate_limit_exceeded',
    );

    const c = await tenantWithKey({ name: 'conc', max_concurrent: 1 });
    const cc = clientFor(c.key);
    const slow = cc.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'long' }],
      max_tokens: 200,
      threshold: 1,
    } as never);
    await new Promise((r) => setTimeout(r, 150));
    await expectStatus(
      cc.completions.create({ model: MODEL, prompt: [4, 5], max_tokens: 2 }),
      429,
      'rate_limit_exceeded',
    );
    await slow;
    await new Promise((r) => setTimeout(r, 100));
    const after = await cc.completions.create({ model: MODEL, prompt: [4, 5], max_tokens: 2 });
    assert.equal(after.choices.length, 1);
  });

  /** Real HTTP to workerd's socket (Node's fetch), so a client can hang up as a real one does. */
  const socketFetch = (path: string, key: string, body: unknown, signal?: AbortSignal) =>
    fetch(new URL(path, worker.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
  const usageOf = async (key: string) =>
    (await (
      await worker.fetch('/v1/usage', { headers: { authorization: `Bearer ${key}` } })
    ).json()) as { requests: number; completionTokens: number };
  const waitFor = async (check: () => Promise<boolean>, ms = 5000) => {
    const until = Date.now() + ms;
    while (!(await check()) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  };

  test('a dropped stream frees its concurrency slot at once and is charged what was computed', async () => {
    const t = await tenantWithKey({ name: 'drop', max_concurrent: 1 });
    const controller = new AbortController();
    const res = await socketFetch(
      '/v1/chat/completions',
      t.key,
      {
        model: MODEL,
        messages: [{ role: 'user', content: 'drop me' }],
        max_tokens: 900,
        threshold: 1,
        stream: true,
      },
      controller.signal,
    );
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let text = '';
    while (!/"content":"[^"]+"/.test(text)) {
      const { done, value } = await reader.read();
      assert.ok(!done, `the stream ended before any text: ${text}`);
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    await waitFor(async () => (await usageOf(t.key)).requests === 1);
    const usage = await usageOf(t.key);
    assert.equal(usage.requests, 1, 'the dropped stream has its usage record');
    assert.ok(
      usage.completionTokens > 0 && usage.completionTokens < 900,
      `charged ${usage.completionTokens}`,
    );
    const next = await clientFor(t.key).completions.create({
      model: MODEL,
      prompt: [4, 5],
      max_tokens: 2,
    });
    assert.equal(next.choices.length, 1, 'the slot was released (max_concurrent 1)');
  });

  test('a client that leaves a non-streaming request stops the work; it is charged what was computed', async () => {
    const t = await tenantWithKey({ name: 'leave' });
    // A raw socket reset: workerd notices a reset at once (a half-close only when it next writes).
    const body = JSON.stringify({ model: MODEL, prompt: [4, 5, 6], max_tokens: 900, threshold: 1 });
    const socket = connect(Number(worker.url.port), worker.url.hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /v1/completions HTTP/1.1\r\nhost: worker\r\nauthorization: Bearer ${t.key}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await new Promise((r) => setTimeout(r, 150));
    socket.resetAndDestroy();
    await waitFor(async () => (await usageOf(t.key)).requests === 1);
    const usage = await usageOf(t.key);
    assert.equal(usage.requests, 1);
    assert.ok(
      usage.completionTokens > 0 && usage.completionTokens < 900,
      `charged ${usage.completionTokens} (the whole request would be 900)`,
    );
  });

  test('a 12 MB body sent with fetch gets the documented 413 every time, never a reset', async () => {
    const { key } = await tenantWithKey({ name: 'big' });
    const body = {
      model: MODEL,
      messages: [{ role: 'user', content: 'x'.repeat(12 << 20) }],
    };
    for (let i = 0; i < 4; i++) {
      const res = await socketFetch('/v1/chat/completions', key, body);
      assert.equal(res.status, 413);
      assert.equal(
        ((await res.json()) as { error: { code: string } }).error.code,
        'request_too_large',
      );
    }
  });

  test('a gzip body over a real socket is refused with 415 unsupported_content_encoding', async () => {
    const { gzipSync } = await import('node:zlib');
    const { key } = await tenantWithKey({ name: 'gzip' });
    const res = await fetch(new URL('/v1/completions', worker.url), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
      body: gzipSync(JSON.stringify({ model: MODEL, prompt: 'hello', max_tokens: 1 })),
    });
    assert.equal(res.status, 415);
    assert.equal(
      ((await res.json()) as { error: { code: string } }).error.code,
      'unsupported_content_encoding',
    );
  });

  test('CORS preflight from a browser origin is answered in workerd before authentication', async () => {
    const res = await worker.fetch('/v1/chat/completions', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });
});
