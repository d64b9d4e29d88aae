/**
 * The API routes driven by the official openai client (its fetch pointed at the app), over the tiny model on
 * ORT-node: chat and completions, streamed and not, usage, stop, seeds, n > 1, errors, disconnect abort.
 */
import { PrefixCache } from '../decode/index.ts';
import { parseCorsOrigins } from './cors.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createApiApp } from './app.ts';
import { staticRegistry } from './engine.ts';
import { runnerEngine } from './runner-engine.ts';
import { StaticTenantStore, openTenant, unlimited } from './single-tenant.ts';
import { modelCodec, openModel } from '../../backends/node/open-model.ts';
import { tinyFixture, type Fixture } from '../../test/fixtures/export.ts';
import type { BlockRunner, ForwardInput } from '../decode/runner.ts';

const KEY = 'sk-unmask-test-key';
const OTHER = 'sk-unmask-other';

describe('OpenAI routes (in-process, ORT-node)', () => {
  let fx: Fixture;
  let client: OpenAI;
  let app: ReturnType<typeof createApiApp>;
  let store: StaticTenantStore;
  let forwards = 0;
  let slowMs = 0;
  const inProcess = async (url: string | URL | Request, init?: RequestInit) =>
    app.fetch(new Request(url as string, init));

  before(async () => {
    fx = await tinyFixture({ seed: 41 });
    const dir = await fx.pkg('tiny');
    const model = await openModel(dir);
    const { runner } = model;
    const codec = modelCodec(model);
    // Count forwards (and optionally slow them) to observe aborts.
    const counting: BlockRunner = {
      info: runner.info,
      truncate: (s, n) => runner.truncate(s, n),
      forward: async (input: ForwardInput) => {
        forwards++;
        if (slowMs) await new Promise((r) => setTimeout(r, slowMs));
        return runner.forward(input);
      },
    };
    store = new StaticTenantStore({
      [KEY]: openTenant('t1', { maxTokens: 200 }),
      [OTHER]: openTenant('t2', { models: ['other-model'] }),
    });
    app = createApiApp({
      engines: staticRegistry([
        runnerEngine({
          id: 'tiny',
          backend: 'node',
          load: async () => ({ runner: counting, codec }),
          prefixCache: new PrefixCache(),
        }),
      ]),
      tenants: store,
      limiter: unlimited,
      keepAliveMs: 20,
    });
    client = new OpenAI({
      apiKey: KEY,
      baseURL: 'http://unmask.test/v1',
      maxRetries: 0,
      fetch: inProcess,
    });
  });
  after(() => fx.cleanup());

  test('chat completion: text, usage, finish reason, same seed → same text', async () => {
    const req = {
      model: 'tiny',
      messages: [{ role: 'user' as const, content: 'hello there' }],
      max_tokens: 20,
      temperature: 0.8,
      seed: 5,
    };
    const a = await client.chat.completions.create(req);
    const b = await client.chat.completions.create(req);
    assert.equal(a.object, 'chat.completion');
    assert.equal(a.choices[0].message.role, 'assistant');
    assert.equal(typeof a.choices[0].message.content, 'string');
    assert.ok(['stop', 'length'].includes(a.choices[0].finish_reason));
    assert.ok(
      a.usage!.prompt_tokens > 5 &&
        a.usage!.completion_tokens > 0 &&
        a.usage!.completion_tokens <= 20,
    );
    assert.equal(a.usage!.total_tokens, a.usage!.prompt_tokens + a.usage!.completion_tokens);
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  });

  test('streamed chat: role first, deltas, finish, usage chunk, same text as non-streamed', async () => {
    const body = {
      model: 'tiny',
      messages: [{ role: 'user' as const, content: 'stream me' }],
      max_tokens: 40,
    };
    const whole = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({
      ...body,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let first = true;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      if (chunk.usage) {
        usage = chunk.usage;
        assert.equal(chunk.choices.length, 0);
        continue;
      }
      if (first) {
        assert.equal(chunk.choices[0].delta.role, 'assistant');
        first = false;
      }
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    assert.equal(text, whole.choices[0].message.content);
    assert.equal(finish, whole.choices[0].finish_reason);
    // The same counts; the streamed request (second) may find the prompt's complete blocks in the prefix cache.
    const { prompt_tokens_details: wholeCached, ...wholeCounts } = whole.usage!;
    const { prompt_tokens_details: streamCached, ...streamCounts } = usage!;
    assert.deepEqual(streamCounts, wholeCounts);
    assert.equal(wholeCached?.cached_tokens, 0);
    assert.ok((streamCached?.cached_tokens ?? -1) >= 0);
  });

  test('n > 1 streamed: choices interleave by index, each equals its non-streamed twin', async () => {
    const body = {
      model: 'tiny',
      messages: [{ role: 'user' as const, content: 'two at once' }],
      max_tokens: 96,
      n: 2,
      temperature: 0.9,
      seed: 7,
    };
    const whole = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({ ...body, stream: true });
    const order: number[] = [];
    const texts = ['', ''];
    for await (const chunk of stream)
      for (const c of chunk.choices) {
        order.push(c.index);
        texts[c.index] += c.delta.content ?? '';
      }
    const lastZero = order.lastIndexOf(0);
    assert.ok(order.indexOf(1) < lastZero, `interleaved: ${order.join(',')}`);
    assert.deepEqual(
      texts,
      whole.choices.map((c) => c.message.content),
    );
  });

  test('completions: string prompt, token prompt, n > 1, stop truncates inside a block', async () => {
    const r = await client.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 30,
      n: 2,
      temperature: 1,
      seed: 1,
    });
    assert.equal(r.choices.length, 2);
    assert.deepEqual(
      r.choices.map((c) => c.index),
      [0, 1],
    );
    const ids = await client.completions.create({
      model: 'tiny',
      prompt: [3, 17, 42, 9],
      max_tokens: 12,
    });
    assert.equal(ids.usage!.prompt_tokens, 4);
    const full = await client.completions.create({
      model: 'tiny',
      prompt: 'Stop test',
      max_tokens: 40,
    });
    const text = full.choices[0].text;
    const stop = text.slice(5, 7);
    assert.ok(
      stop.length === 2,
      `need generated text to pick a stop from: ${JSON.stringify(text)}`,
    );
    const cut = await client.completions.create({
      model: 'tiny',
      prompt: 'Stop test',
      max_tokens: 40,
      stop: [stop],
    });
    assert.equal(cut.choices[0].text, text.slice(0, text.indexOf(stop)));
    assert.equal(cut.choices[0].finish_reason, 'stop');
    assert.ok(cut.usage!.completion_tokens < full.usage!.completion_tokens);
  });

  test('errors: OpenAI envelope and status for each class', async () => {
    const expect = async (p: Promise<unknown>, status: number, param?: string) => {
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof OpenAI.APIError, String(e));
        assert.equal(e.status, status);
        if (param) assert.equal(e.param, param);
        return true;
      });
    };
    await expect(
      client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
      404,
      'model',
    );
    await expect(client.chat.completions.create({ model: 'tiny', messages: [] }), 400, 'messages');
    await expect(
      client.chat.completions.create({
        model: 'tiny',
        messages: [{ role: 'user', content: 'x' }],
        temperature: -1,
      }),
      400,
      'temperature',
    );
    await expect(
      client.chat.completions.create({
        model: 'tiny',
        messages: [{ role: 'user', content: 'x' }],
        logprobs: true,
        top_logprobs: 21,
      }),
      400,
      'top_logprobs',
    );
    await expect(
      client.chat.completions.create({
        model: 'tiny',
        messages: [{ role: 'user', content: 'x' }],
        stop: ['a', 'b', 'c', 'd', 'e'],
      }),
      400,
      'stop',
    );
    await expect(
      client.chat.completions.create({
        model: 'tiny',
        messages: [{ role: 'user', content: 'x' }],
        logit_bias: { '5': 3 },
      }),
      400,
      'logit_bias',
    );
    await expect(
      client.chat.completions.create({
        model: 'tiny',
        messages: [{ role: 'user', content: 'x' }],
        presence_penalty: 0.5,
      }),
      400,
      'presence_penalty',
    );
    await expect(
      client.completions.create({ model: 'tiny', prompt: 'x', frequency_penalty: -1 }),
      400,
      'frequency_penalty',
    );
    await expect(
      client.completions.create({ model: 'tiny', prompt: 'x', best_of: 3 }),
      400,
      'best_of',
    );
    const noOps = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 2,
      presence_penalty: 0,
      frequency_penalty: 0,
      logit_bias: {},
      top_logprobs: 0,
      logprobs: false,
      tools: [],
      tool_choice: 'none',
    });
    assert.equal(noOps.choices.length, 1, 'the no-op values clients send by default are accepted');
    assert.equal(noOps.choices[0].logprobs, null);
    await expect(
      client.chat.completions.create({
        model: 'tiny',
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 500,
      }),
      400,
      'max_tokens',
    );
    await expect(
      client.chat.completions.create({
        model: 'tiny',
        messages: [{ role: 'user', content: 'x' }],
        threshold: 1.5,
      } as never),
      400,
      'threshold',
    );
    await expect(
      client.chat.completions.create({
        model: 'tiny',
        messages: [{ role: 'user', content: 'x' }],
        strategy: 'bogus',
      } as never),
      400,
      'strategy',
    );
    await expect(
      client.completions.create({ model: 'tiny', prompt: [3, 9_999_999], max_tokens: 4 }),
      400,
    );
    const other = new OpenAI({
      apiKey: OTHER,
      baseURL: 'http://unmask.test/v1',
      maxRetries: 0,
      fetch: inProcess,
    });
    // A model the key may not use is indistinguishable from one that does not exist (no 403).
    await expect(
      other.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }] }),
      404,
      'model',
    );
    const bad = new OpenAI({
      apiKey: 'sk-unmask-wrong',
      baseURL: 'http://unmask.test/v1',
      maxRetries: 0,
      fetch: inProcess,
    });
    await expect(bad.models.list(), 401);
    const raw = await app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    assert.equal(raw.status, 400);
    assert.equal((await raw.json()).error.type, 'invalid_request_error');
    const big = await app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'tiny',
        messages: [{ role: 'user', content: 'x'.repeat(2 << 20) }],
      }),
    });
    assert.equal(big.status, 413);
    const nf = await app.request('/nowhere');
    assert.equal(nf.status, 404);
    const body = JSON.stringify(await nf.json());
    assert.ok(!body.includes(KEY));
  });

  test('a method not allowed on an existing route is a 405 with Allow; an unknown path a 404', async () => {
    const call = (method: string, path: string) =>
      app.fetch(
        new Request(`http://unmask.test${path}`, {
          method,
          headers: { authorization: `Bearer ${KEY}` },
        }),
      );
    for (const [method, path, allow] of [
      ['PUT', '/v1/chat/completions', 'POST'],
      ['GET', '/v1/completions', 'POST'],
      ['DELETE', '/v1/models', 'GET, HEAD'],
      ['POST', '/v1/models/tiny', 'GET, HEAD'],
      ['POST', '/health', 'GET, HEAD'],
    ]) {
      const res = await call(method, path);
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), allow);
      const error = ((await res.json()) as { error: { code: string; type: string } }).error;
      assert.equal(error.code, 'method_not_allowed');
    }
    assert.equal((await call('GET', '/v1/nothing')).status, 404);
  });

  test('every error names the field the route uses', async () => {
    const post = (path: string, body: unknown) =>
      app.request(path, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const paramOf = async (res: Response) =>
      ((await res.json()) as { error: { param: string | null } }).error.param;
    const tooLongChat = await post('/v1/chat/completions', {
      model: 'tiny',
      messages: [{ role: 'user', content: 'word '.repeat(5000) }],
    });
    assert.equal(await paramOf(tooLongChat), 'messages');
    const tooLongIds = await post('/v1/completions', {
      model: 'tiny',
      prompt: Array.from({ length: 2000 }, () => 5),
    });
    assert.equal(await paramOf(tooLongIds), 'prompt');
    const noRoom = await post('/v1/chat/completions', {
      model: 'tiny',
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 50,
      block_length: 0,
    });
    assert.equal(await paramOf(noRoom), 'block_length');
    const maskIds = await post('/v1/completions', { model: 'tiny', prompt: [4, 999_999] });
    assert.equal(await paramOf(maskIds), 'prompt');
  });

  test('models.retrieve: the card of a model the key may use; 404 model_not_found otherwise', async () => {
    const card = await client.models.retrieve('tiny');
    assert.deepEqual(
      { id: card.id, object: card.object, owned_by: card.owned_by },
      { id: 'tiny', object: 'model', owned_by: 'unmask' },
    );
    await assert.rejects(
      client.models.retrieve('nope'),
      (e: unknown) =>
        e instanceof OpenAI.APIError && e.status === 404 && e.code === 'model_not_found',
    );
    const odd = await app.fetch(
      new Request('http://unmask.test/v1/models/100%25', {
        headers: { authorization: `Bearer ${KEY}` },
      }),
    );
    assert.equal(odd.status, 404, 'an id with % is looked up, not a 500');
    const other = new OpenAI({
      apiKey: OTHER,
      baseURL: 'http://unmask.test/v1',
      maxRetries: 0,
      fetch: inProcess,
    });
    await assert.rejects(
      other.models.retrieve('tiny'),
      (e: unknown) => e instanceof OpenAI.APIError && e.status === 404,
    );
    await assert.rejects(
      new OpenAI({
        apiKey: 'sk-unmask-wrong',
        baseURL: 'http://unmask.test/v1',
        maxRetries: 0,
        fetch: inProcess,
      }).models.retrieve('tiny'),
      (e: unknown) => e instanceof OpenAI.APIError && e.status === 401,
    );
  });

  test('models list respects the tenant; usage shows only the caller', async () => {
    const models = await client.models.list();
    assert.deepEqual(
      models.data.map((m) => m.id),
      ['tiny'],
    );
    const res = await app.request('/v1/usage', { headers: { authorization: `Bearer ${KEY}` } });
    const usage = (await res.json()) as { tenantId: string; requests: number };
    assert.equal(usage.tenantId, 't1');
    assert.ok(usage.requests > 0);
    assert.ok(store.records.every((r) => r.tenantId === 't1'));
  });

  test('denoising frames are opt-in chunks with a diffusion member; a client abort mid-stream stops the forwards', async () => {
    const res = await app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'tiny',
        messages: [{ role: 'user', content: 'frames' }],
        max_tokens: 16,
        stream: true,
        stream_options: { include_denoising: true },
      }),
    });
    const text = await res.text();
    assert.doesNotMatch(text, /^event:/m, 'no named events: SDK iterators see every frame');
    assert.match(text, /data: \[DONE\]\n\n$/);
    type Frame = {
      id: string;
      object: string;
      choices: unknown[];
      diffusion?: {
        index: number;
        block: number;
        step: number;
        committed: { index: number; token: number; text: string; confidence: number }[];
        masked: number[];
      };
    };
    const parsed = text
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as Frame);
    const frames = parsed.filter((c) => c.diffusion).map((c) => c.diffusion!);
    assert.ok(frames.length > 0, 'frames were sent');
    for (const c of parsed.filter((c) => c.diffusion)) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, parsed[0].id);
      assert.deepEqual(c.choices, []);
    }
    const committed = frames.flatMap((f) => f.committed);
    assert.ok(committed.length > 0);
    for (const c of committed) {
      assert.ok(c.confidence > 0 && c.confidence <= 1, `confidence ${c.confidence}`);
      assert.equal(typeof c.text, 'string');
    }
    assert.ok(
      frames.every(
        (f) => f.index === 0 && !f.masked.some((m) => f.committed.some((c) => c.index === m)),
      ),
    );
    // Through the OpenAI SDK: the frames arrive as chunks with no choices, the text as usual.
    const sdkStream = (await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'frames' }],
      max_tokens: 16,
      stream: true,
      stream_options: { include_denoising: true } as never,
    })) as unknown as AsyncIterable<Frame & { choices: { delta?: { content?: string } }[] }>;
    let sdkFrames = 0;
    let sdkText = '';
    for await (const c of sdkStream) {
      if (c.diffusion) sdkFrames++;
      sdkText += c.choices[0]?.delta?.content ?? '';
    }
    assert.equal(sdkFrames, frames.length);
    const plain = text
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as { choices: { delta?: { content?: string } }[] })
      .map((c) => c.choices[0]?.delta?.content ?? '')
      .join('');
    assert.equal(sdkText, plain);

    slowMs = 15;
    const controller = new AbortController();
    const before = forwards;
    const stream = (await client.chat.completions.create(
      {
        model: 'tiny',
        messages: [{ role: 'user', content: 'long one' }],
        max_tokens: 190,
        stream: true,
        threshold: 1,
      } as never,
      { signal: controller.signal },
    )) as unknown as AsyncIterable<unknown>;
    let chunks = 0;
    try {
      for await (const _ of stream)
        if (++chunks === 2) {
          controller.abort();
          break;
        }
    } catch {
      /* the client may surface the abort as an error */
    }
    await new Promise((r) => setTimeout(r, 100));
    const afterAbort = forwards;
    await new Promise((r) => setTimeout(r, 200));
    slowMs = 0;
    assert.equal(forwards, afterAbort, 'no forward after the abort settled');
    assert.ok(afterAbort - before < 150, `aborted early: ${afterAbort - before} forwards`);
  });

  test("every response carries a server x-request-id (errors and streams included), the metering key; a caller's id is echoed, never metered", async () => {
    const post = (headers: Record<string, string>, body: unknown) =>
      app.fetch(
        new Request('http://unmask.test/v1/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        }),
      );
    const ok = await post(
      { authorization: `Bearer ${KEY}` },
      { model: 'tiny', prompt: 'hi', max_tokens: 4 },
    );
    assert.match(ok.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
    await ok.text();
    const unauthorized = await post({}, { model: 'tiny', prompt: 'hi' });
    assert.equal(unauthorized.status, 401);
    assert.match(unauthorized.headers.get('x-request-id') ?? '', /^req_/);
    const notFound = await app.fetch(new Request('http://unmask.test/v2/nothing'));
    assert.match(notFound.headers.get('x-request-id') ?? '', /^req_/);
    const stream = await post(
      { authorization: `Bearer ${KEY}`, 'x-request-id': 'gw-trace.42' },
      { model: 'tiny', prompt: 'hi', max_tokens: 4, stream: true },
    );
    const serverId = stream.headers.get('x-request-id') ?? '';
    assert.match(serverId, /^req_[0-9a-f]{32}$/);
    assert.equal(
      stream.headers.get('x-client-request-id'),
      'gw-trace.42',
      "the caller's id is echoed beside ours",
    );
    await stream.text();
    // The same client id again must not merge two requests' usage (usage is deduplicated by request id).
    const repeat = await post(
      { authorization: `Bearer ${KEY}`, 'x-request-id': 'gw-trace.42' },
      { model: 'tiny', prompt: 'hi', max_tokens: 2 },
    );
    await repeat.text();
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      store.records.some((r) => r.requestId === serverId),
      'the usage record has the server request id',
    );
    assert.ok(
      !store.records.some((r) => r.requestId === 'gw-trace.42'),
      'a client id is never the metering key',
    );
    const spoofed = await post(
      { authorization: `Bearer ${KEY}`, 'x-request-id': 'bad id with spaces' },
      { model: 'tiny', prompt: 'hi', max_tokens: 2 },
    );
    assert.equal(spoofed.headers.get('x-client-request-id'), null);
    await spoofed.text();
  });

  test('a repeated long prompt is served from the prefix cache: same text, usage reports the cached prompt tokens', async () => {
    const prompt = Array.from({ length: 70 }, (_, i) => (i * 37 + 11) % 200);
    const first = await client.completions.create({
      model: 'tiny',
      prompt,
      max_tokens: 12,
      threshold: 0.9,
    } as never);
    const second = await client.completions.create({
      model: 'tiny',
      prompt,
      max_tokens: 12,
      threshold: 0.9,
    } as never);
    assert.equal(second.choices[0].text, first.choices[0].text);
    const cached = (u: unknown) =>
      (u as { prompt_tokens_details: { cached_tokens: number } }).prompt_tokens_details
        .cached_tokens;
    const B = 32;
    assert.equal(cached(first.usage), 0);
    assert.equal(cached(second.usage), Math.floor(70 / B) * B);
  });

  test('CORS: preflights pass before auth, responses expose the request id and rate headers; a list or none restricts it', async () => {
    const preflight = (target: ReturnType<typeof createApiApp>, origin: string) =>
      target.fetch(
        new Request('http://unmask.test/v1/chat/completions', {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization,content-type',
          },
        }),
      );
    const open = await preflight(app, 'https://any.example');
    assert.equal(open.status, 204);
    assert.equal(open.headers.get('access-control-allow-origin'), '*');
    assert.match(open.headers.get('access-control-allow-headers') ?? '', /authorization/);
    const models = await app.fetch(
      new Request('http://unmask.test/v1/models', {
        headers: { origin: 'https://any.example', authorization: `Bearer ${KEY}` },
      }),
    );
    assert.equal(models.headers.get('access-control-allow-origin'), '*');
    assert.match(models.headers.get('access-control-expose-headers') ?? '', /x-request-id/);

    const engines = staticRegistry([
      runnerEngine({
        id: 'tiny',
        backend: 'node',
        load: async () => {
          throw new Error('CORS checks never load the model');
        },
      }),
    ]);
    const listed = createApiApp({
      engines,
      tenants: store,
      limiter: unlimited,
      corsOrigins: parseCorsOrigins('https://app.example, https://admin.example'),
    });
    assert.equal(
      (await preflight(listed, 'https://app.example')).headers.get('access-control-allow-origin'),
      'https://app.example',
    );
    assert.equal(
      (await preflight(listed, 'https://evil.example')).headers.get('access-control-allow-origin'),
      null,
    );
    const none = createApiApp({
      engines,
      tenants: store,
      limiter: unlimited,
      corsOrigins: parseCorsOrigins('none'),
    });
    const refused = await preflight(none, 'https://any.example');
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    assert.notEqual(refused.status, 204);
  });
});
