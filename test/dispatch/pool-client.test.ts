/**
 * The GPU-pool client against a real local HTTP server speaking src/dispatch/pool/protocol.ts (running the real decode
 * loop on the tiny model): same tokens as the loop in-process; retries before the first event (503, refused
 * connections, 5xx, dead or silent streams); mid-stream failures as a clean SSE error + [DONE] through the API;
 * aborts reaching the upstream; keep-alives while a cold pool answers 503; degrade and size routing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { generate, type DecodeEvent, type DecodeOptions } from '../../src/decode/index.ts';
import { modelCodec, openModel, type OpenedModel } from '../../backends/node/open-model.ts';
import { tinyFixture, randomIds, type Fixture } from '../fixtures/export.ts';
import type { TextCodec } from '../../src/model/text-codec.ts';
import { PoolMembers, createPoolEngine, type PoolEngine } from '../../src/dispatch/pool/index.ts';
import { ApiError } from '../../src/api/errors.ts';
import { createApiApp } from '../../src/api/app.ts';
import { runnerEngine } from '../../src/api/runner-engine.ts';
import { StaticTenantStore, openTenant, unlimited } from '../../src/api/single-tenant.ts';
import type { OpenModel } from '../../src/api/engine.ts';
import {
  dispatchRegistry,
  parseDispatchConfig,
  type PoolEngineFactory,
} from '../../src/dispatch/index.ts';
import { SECRET, startFakePool, type FakePool, type Script } from '../fixtures/fake-pool.ts';

const POOL_MODEL = 'big';
const FAST = { budgetMs: 1500, backoffBaseMs: 10, backoffMaxMs: 40, connectTimeoutMs: 500 };

/** A port with nothing listening (connection refused). */
async function deadUrl(): Promise<string> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

async function collect(events: AsyncIterable<DecodeEvent>): Promise<DecodeEvent[]> {
  const out: DecodeEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

/** p, or a failure after ms (a hang must fail the test, not stall it). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms (hang)`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('GPU pool client against a protocol server', () => {
  let fx: Fixture;
  let local: OpenedModel;
  let codec: TextCodec;
  let dir: string;
  let pool: FakePool;
  let second: FakePool;
  const opened: FakePool[] = [];

  const startPool = async (script?: Script) => {
    const p = await startFakePool({ id: POOL_MODEL, runner: local.runner, codec, dir, script });
    opened.push(p);
    return p;
  };
  const engineFor = (
    urls: string[],
    extra: { idleTimeoutMs?: number; failureThreshold?: number } = {},
  ) => {
    const members = new PoolMembers({
      urls,
      breaker: { failureThreshold: extra.failureThreshold ?? 3, coolDownMs: 200 },
    });
    return {
      members,
      engine: createPoolEngine({
        kind: 'unmask',
        id: POOL_MODEL,
        members,
        secret: SECRET,
        retry: FAST,
        idleTimeoutMs: extra.idleTimeoutMs ?? 1000,
      }),
    };
  };
  const prompt = () => randomIds(9, local.runner.info.vocabSize - 8, 5);
  const OPTIONS: DecodeOptions = { maxTokens: 24, threshold: 0.9 };
  let want: number[];

  before(async () => {
    fx = await tinyFixture({ seed: 29 });
    dir = await fx.pkg('tiny');
    local = await openModel(dir);
    codec = modelCodec(local);
    pool = await startPool();
    second = await startPool();
    want = (await generate(local.runner, prompt(), OPTIONS)).tokens;
  });
  after(async () => {
    await Promise.all(opened.map((p) => p.close()));
    await fx?.cleanup();
  });

  test("open() describes the model once; decode streams the loop's exact tokens", async () => {
    const { engine } = engineFor([pool.url]);
    const model = await engine.open();
    assert.equal(await engine.open(), model, 'cached');
    assert.deepEqual(model.info, local.runner.info);
    assert.deepEqual(model.codec.encode('hello there'), codec.encode('hello there'));
    const before = pool.generates().length;
    const events = await collect(model.decode(prompt(), { ...OPTIONS, seed: 4, temperature: 0 }));
    const done = events.at(-1)!;
    assert.equal(done.type, 'done');
    assert.deepEqual(done.type === 'done' && done.result.tokens, want);
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'block' ? e.tokens : [])),
      want,
    );
    assert.ok(
      events.every((e) => e.type !== 'step'),
      'no denoising snapshots unless asked',
    );
    const req = pool.generates()[before];
    assert.equal(req.authorization, `Bearer ${SECRET}`);
    assert.deepEqual(req.body, {
      model: POOL_MODEL,
      prompt_ids: prompt(),
      options: { maxTokens: 24, threshold: 0.9, temperature: 0, seed: 4 },
    });
  });

  test('a pool serving another model is a misconfiguration (502)', async () => {
    const members = new PoolMembers({ urls: [pool.url] });
    const engine = createPoolEngine({
      kind: 'unmask',
      id: 'x',
      upstreamModel: 'other',
      members,
      secret: SECRET,
      retry: FAST,
    });
    await assert.rejects(
      engine.open(),
      (e: unknown) =>
        e instanceof ApiError && e.status === 502 && e.code === 'backend_misconfigured',
    );
    const wrongSecret = createPoolEngine({
      kind: 'unmask',
      id: POOL_MODEL,
      members,
      secret: 'nope',
      retry: FAST,
    });
    await assert.rejects(
      wrongSecret.open(),
      (e: unknown) => e instanceof ApiError && e.status === 502,
    );
  });

  test('503 + Retry-After before the stream: retried on the same member, same tokens', async () => {
    const p = await startPool((n) => (n === 0 ? { status: 503, retryAfter: 0 } : undefined));
    const { engine, members } = engineFor([p.url]);
    const events = await collect((await engine.open()).decode(prompt(), OPTIONS));
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'block' ? e.tokens : [])),
      want,
    );
    assert.equal(p.generates().length, 2);
    assert.equal(
      members.members[0].breaker.consecutiveFailures,
      0,
      'a 503 is "busy", not a failure',
    );
  });

  test('connection refused, 500, a socket dropped before or after the headers: next member or next round', async () => {
    const dead = await deadUrl();
    const { engine, members } = engineFor([dead, pool.url]);
    const model = await engine.open();
    const run = async () =>
      (await collect(model.decode(prompt(), OPTIONS))).flatMap((e) =>
        e.type === 'block' ? e.tokens : [],
      );
    assert.deepEqual(await run(), want);
    assert.ok(
      members.members[0].breaker.consecutiveFailures >= 1,
      'the refused member was charged',
    );
    for (const script of [
      (n: number) => (n === 0 ? { status: 500 } : undefined),
      (n: number) => (n === 0 ? { destroy: 'before-headers' as const } : undefined),
      (n: number) => (n === 0 ? { destroy: 'after-headers' as const } : undefined),
      (n: number) => (n === 0 ? { stallAfterEvents: 0 } : undefined),
    ]) {
      const p = await startPool(script);
      // The idle timeout detects the last script's stall; the retry budget (1500 ms) leaves room for the retry.
      const one = engineFor([p.url], { idleTimeoutMs: 500 });
      const got = await collect((await one.engine.open()).decode(prompt(), OPTIONS));
      assert.deepEqual(
        got.flatMap((e) => (e.type === 'block' ? e.tokens : [])),
        want,
        String(script),
      );
      assert.equal(p.generates().length, 2, String(script));
    }
  });

  test('every member down: 503 backend_unavailable as soon as the breakers are open; a pool that stays busy: at the budget', async () => {
    const { engine, members } = engineFor([await deadUrl(), await deadUrl()], {
      failureThreshold: 2,
    });
    // open() needs a live member too.
    await assert.rejects(
      engine.open(),
      (e: unknown) =>
        e instanceof ApiError &&
        e.status === 503 &&
        e.code === 'backend_unavailable' &&
        e.retryAfterSeconds === 5,
    );
    assert.deepEqual(
      members.status().map((s) => s.breaker),
      ['open', 'open'],
    );
    assert.equal(await engine.available(), false);
    const t0 = Date.now();
    await assert.rejects(engine.open(), /circuit breaker is open/);
    assert.ok(Date.now() - t0 < 100, 'open breakers fail fast');

    const busy = await startPool(() => ({ status: 503, retryAfter: 0.1 }));
    const b = engineFor([busy.url]);
    const model = await b.engine.open();
    const t1 = Date.now();
    await assert.rejects(collect(model.decode(prompt(), OPTIONS)), /retry budget of 1500 ms spent/);
    assert.ok(Date.now() - t1 >= 1300);
    assert.equal(b.members.members[0].breaker.state, 'closed', 'busy is not broken');
  });

  test("an error event before any token is the caller's error (no retry)", async () => {
    const p = await startPool(() => ({
      events: [
        {
          type: 'error',
          error: {
            message: 'steps: must be positive',
            type: 'invalid_request_error',
            code: null,
            param: 'steps',
          },
        },
      ],
    }));
    const { engine } = engineFor([p.url]);
    await assert.rejects(
      collect((await engine.open()).decode(prompt(), OPTIONS)),
      (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === 'steps',
    );
    assert.equal(p.generates().length, 1);
  });

  test('abort: the upstream request is closed and the stream ends with an aborted result', async () => {
    const p = await startPool(() => ({ slowMs: 30 }));
    const { engine } = engineFor([p.url]);
    const ac = new AbortController();
    const events: DecodeEvent[] = [];
    for await (const e of (await engine.open()).decode(prompt(), {
      ...OPTIONS,
      signal: ac.signal,
    })) {
      events.push(e);
      if (e.type === 'block') ac.abort();
    }
    const done = events.at(-1)!;
    assert.equal(done.type === 'done' && done.result.finishReason, 'aborted');
    assert.equal(await within(p.generates()[0].closedEarly, 2000, 'upstream close'), true);
  });

  test('the caller stopping early (a stop sequence) also closes the upstream, and does not charge the member', async () => {
    const p = await startPool(() => ({ slowMs: 30 }));
    const { engine, members } = engineFor([p.url]);
    for await (const e of (await engine.open()).decode(prompt(), OPTIONS))
      if (e.type === 'block') break;
    assert.equal(await within(p.generates()[0].closedEarly, 2000, 'upstream close'), true);
    assert.equal(members.members[0].breaker.consecutiveFailures, 0);
  });

  describe('through the API (createApiApp + dispatch registry)', () => {
    const KEY = 'sk-degrade';
    const PLAIN = 'sk-plain';
    let store: StaticTenantStore;

    /** An API over the local edge model ("tiny") and the given pool URLs for "big" (and for long "tiny" requests). */
    const apiFor = (urls: string[], { edgeMaxTokens = 1000, idleTimeoutMs = 1000 } = {}) => {
      const config = parseDispatchConfig(
        {
          pools: { gpu: { members: urls, breaker: { failureThreshold: 2, coolDownMs: 5000 } } },
          routes: {
            big: { pool: 'gpu', degradeTo: 'tiny' },
            tiny: { pool: 'gpu', upstreamModel: POOL_MODEL, edge: { maxTokens: edgeMaxTokens } },
          },
        },
        { edgeModel: 'tiny' },
      )!;
      const members = new PoolMembers({ urls, breaker: config.pools.gpu.breaker });
      const engines: PoolEngine[] = [];
      const poolEngine: PoolEngineFactory = ({ model, upstreamModel }) => {
        const e = createPoolEngine({
          kind: 'unmask',
          id: model,
          upstreamModel,
          members,
          secret: SECRET,
          retry: FAST,
          idleTimeoutMs,
        });
        engines.push(e);
        return e;
      };
      const edge = runnerEngine({
        id: 'tiny',
        backend: 'edge-wasm',
        load: async () => ({ runner: local.runner, codec }),
      });
      store = new StaticTenantStore({
        [KEY]: openTenant('t-degrade', { degradeToEdge: true }),
        [PLAIN]: openTenant('t-plain'),
      });
      const app = createApiApp({
        engines: dispatchRegistry({ config, edge, poolEngine }),
        tenants: store,
        limiter: unlimited,
        keepAliveMs: 20,
      });
      const call = async (body: Record<string, unknown>, key = PLAIN): Promise<Response> =>
        app.fetch(
          new Request('http://unmask.test/v1/completions', {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          }),
        );
      return { app, call, members };
    };
    const sseData = (text: string) =>
      text
        .split('\n\n')
        .filter((f) => f.startsWith('data: '))
        .map((f) => f.slice(6));
    const textOf = (frames: string[]) =>
      frames
        .filter((d) => d !== '[DONE]')
        .map((d) => JSON.parse(d) as { choices?: { text: string }[] })
        .map((c) => c.choices?.[0]?.text ?? '')
        .join('');

    test('pool model: same text as the loop, streamed and not; usage records say gpu-pool', async () => {
      const { call } = apiFor([pool.url]);
      const body = { model: 'big', prompt: prompt(), max_tokens: 24, threshold: 0.9 };
      const res = await call(body);
      assert.equal(res.status, 200);
      const json = (await res.json()) as {
        choices: { text: string }[];
        usage: { completion_tokens: number };
      };
      assert.equal(json.choices[0].text, codec.decode(want));
      const streamed = await call({ ...body, stream: true });
      const frames = sseData(await streamed.text());
      assert.equal(frames.at(-1), '[DONE]');
      assert.equal(textOf(frames), codec.decode(want));
      assert.deepEqual(
        store.records.map((r) => r.backend),
        ['gpu-pool', 'gpu-pool'],
      );
    });

    test('mid-stream disconnect: the client gets an error event and [DONE], no hang; non-streamed: 502', async () => {
      const p = await startPool(() => ({ breakAfterEvents: 1 }));
      const { call, members } = apiFor([p.url]);
      const res = await within(
        call({ model: 'big', prompt: prompt(), max_tokens: 24, threshold: 0.9, stream: true }),
        5000,
        'stream',
      );
      const frames = sseData(await within(res.text(), 5000, 'stream body'));
      assert.equal(frames.at(-1), '[DONE]');
      const error = JSON.parse(frames.at(-2)!) as { error: { code: string; type: string } };
      assert.equal(error.error.code, 'backend_disconnected');
      assert.ok(
        textOf(frames.slice(0, -2)).length > 0 || frames.length >= 3,
        'tokens before the break reached the client',
      );
      assert.equal(p.generates().length, 1, 'no retry once tokens were sent');
      assert.equal(members.members[0].breaker.consecutiveFailures, 1);
      const whole = await call({ model: 'big', prompt: prompt(), max_tokens: 24, threshold: 0.9 });
      assert.equal(whole.status, 502);
      assert.equal(
        ((await whole.json()) as { error: { code: string } }).error.code,
        'backend_disconnected',
      );
      assert.equal(store.records.at(-1)!.status, 502);
    });

    test('a silent stream mid-way hits the idle timeout: error event and [DONE]', async () => {
      const p = await startPool(() => ({ stallAfterEvents: 1 }));
      const { call } = apiFor([p.url], { idleTimeoutMs: 200 });
      const res = await call({
        model: 'big',
        prompt: prompt(),
        max_tokens: 24,
        threshold: 0.9,
        stream: true,
      });
      const frames = sseData(await within(res.text(), 5000, 'stream body'));
      assert.equal(frames.at(-1), '[DONE]');
      assert.match(frames.at(-2)!, /backend_disconnected/);
    });

    test('a cold pool (503 + Retry-After) is waited for inside the stream: role chunk and keep-alives first', async () => {
      const p = await startPool((n) => (n < 3 ? { status: 503, retryAfter: 0.1 } : undefined));
      const { call } = apiFor([p.url]);
      const res = await call({
        model: 'big',
        prompt: prompt(),
        max_tokens: 24,
        threshold: 0.9,
        stream: true,
      });
      assert.equal(res.status, 200);
      const text = await res.text();
      const firstContent = text.indexOf('"text":"', text.indexOf('data: ', 1) + 1);
      assert.ok(
        text.indexOf(': keep-alive') > 0 && text.indexOf(': keep-alive') < firstContent,
        'keep-alives while waiting',
      );
      assert.equal(textOf(sseData(text)), codec.decode(want));
      assert.equal(p.generates().length, 4);
    });

    test('client disconnect through the API aborts the upstream request', async () => {
      const p = await startPool(() => ({ slowMs: 40 }));
      const { call } = apiFor([p.url]);
      const res = await call({
        model: 'big',
        prompt: prompt(),
        max_tokens: 48,
        threshold: 0.99,
        stream: true,
      });
      const reader = res.body!.getReader();
      // Read until the upstream stream is flowing, then hang up.
      const decoder = new TextDecoder();
      let seen = '';
      while (!/"text":"[^"]/.test(seen))
        seen += decoder.decode((await within(reader.read(), 5000, 'first token')).value);
      await reader.cancel();
      assert.equal(await within(p.generates()[0].closedEarly, 3000, 'upstream close'), true);
    });

    test('pool down: a degradeToEdge tenant gets the edge model, others a 503 with Retry-After', async () => {
      const { call } = apiFor([await deadUrl()]);
      const body = { model: 'big', prompt: prompt(), max_tokens: 24, threshold: 0.9 };
      const refused = await call(body);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '5');
      assert.equal(
        ((await refused.json()) as { error: { code: string } }).error.code,
        'backend_unavailable',
      );
      const degraded = await call(body, KEY);
      assert.equal(degraded.status, 200);
      assert.equal(
        ((await degraded.json()) as { choices: { text: string }[] }).choices[0].text,
        codec.decode(want),
      );
      assert.equal(store.records.at(-1)!.backend, 'edge-wasm');
      // Pool up: the same tenant goes to the pool.
      const up = apiFor([pool.url]);
      assert.equal((await up.call(body, KEY)).status, 200);
      assert.equal(store.records.at(-1)!.backend, 'gpu-pool');
    });

    test('edge model with a pool behind it: small requests stay on the edge, larger ones go to the pool', async () => {
      const { call } = apiFor([second.url], { edgeMaxTokens: 20 });
      const before = second.generates().length;
      const small = await call({ model: 'tiny', prompt: prompt().slice(0, 4), max_tokens: 8 });
      assert.equal(small.status, 200);
      assert.equal(store.records.at(-1)!.backend, 'edge-wasm');
      assert.equal(second.generates().length, before);
      const large = await call({ model: 'tiny', prompt: prompt(), max_tokens: 24, threshold: 0.9 });
      assert.equal(large.status, 200);
      assert.equal(
        ((await large.json()) as { choices: { text: string }[] }).choices[0].text,
        codec.decode(want),
      );
      assert.equal(store.records.at(-1)!.backend, 'gpu-pool');
      assert.equal(second.generates().length, before + 1);
    });
  });

  test('openai kind (SGLang-style /v1/completions): the same text, re-encoded', async () => {
    const members = new PoolMembers({ urls: [await deadUrl(), pool.url] });
    const engine = createPoolEngine({
      kind: 'openai',
      id: 'llada',
      upstreamModel: 'llada',
      members,
      secret: SECRET,
      retry: FAST,
      model: async () => ({ codec, info: local.runner.info }),
    });
    const model: OpenModel = await engine.open();
    const plain = { maxTokens: 24 };
    const expected = (await generate(local.runner, prompt(), plain)).tokens;
    const events = await collect(model.decode(prompt(), plain));
    const tokens = events.flatMap((e) => (e.type === 'block' ? e.tokens : []));
    assert.equal(codec.decode(tokens), codec.decode(expected));
    const done = events.at(-1)!;
    assert.ok(done.type === 'done' && ['stop', 'length'].includes(done.result.finishReason));
    const req = pool.received.filter((r) => r.path === '/v1/completions').at(-1)!;
    assert.deepEqual(req.body, {
      model: 'llada',
      prompt: prompt(),
      stream: true,
      skip_special_tokens: false,
      max_tokens: 24,
      temperature: 0,
    });
    await assert.rejects(
      collect(model.decode(prompt(), { ...plain, steps: 4 })),
      (e: unknown) => e instanceof ApiError && e.status === 400,
    );
  });

  test('response_format: the openai kind passes it through; the unmask kind refuses it before any request', async () => {
    const spec = { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } };
    const constraint = {
      spec,
      start: () => {
        throw new Error('a pool member never runs the grammar here');
      },
    };
    const openai = await createPoolEngine({
      kind: 'openai',
      id: 'llada',
      upstreamModel: 'llada',
      members: new PoolMembers({ urls: [pool.url] }),
      secret: SECRET,
      retry: FAST,
      model: async () => ({ codec, info: local.runner.info }),
    }).open();
    await collect(openai.decode(prompt(), { maxTokens: 8, constraint }));
    const req = pool.received.filter((r) => r.path === '/v1/completions').at(-1)!;
    assert.deepEqual((req.body as { response_format?: unknown }).response_format, spec);
    const { engine } = engineFor([pool.url]);
    const unmask = await engine.open();
    const before = pool.generates().length;
    await assert.rejects(
      collect(unmask.decode(prompt(), { maxTokens: 8, constraint })),
      (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === 'response_format',
    );
    assert.equal(pool.generates().length, before);
  });
});
