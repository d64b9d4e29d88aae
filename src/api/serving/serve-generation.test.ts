/**
 * What a tenant cannot do through the generation routes (in-process app, ORT-node): forge turns with special
 * tokens (the demo model's tokenizer), make the server work before it is admitted, reserve more than its limits
 * can ever hold or more choices than the cap, or get tokens free by hanging up or by never reading a stream.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { createApiApp } from '../app.ts';
import { staticRegistry, type ModelEngine } from '../engine.ts';
import { runnerEngine } from '../runner-engine.ts';
import { StaticTenantStore, openTenant } from '../single-tenant.ts';
import type { Limiter, Tenant } from '../tenancy.ts';
import { createMemoryLimiter } from '../../tenants/limiter/memory-limiter.ts';
import { modelCodec, openModel } from '../../../backends/node/open-model.ts';
import { tinyFixture, type Fixture } from '../../../test/fixtures/export.ts';
import type { BlockRunner } from '../../decode/runner.ts';
import type { TextCodec } from '../../model/text-codec.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Harness {
  app: ReturnType<typeof createApiApp>;
  store: StaticTenantStore;
  opens: () => number;
  forwards: () => number;
  log: string[];
  setSlowMs: (ms: number) => void;
  post: (path: string, key: string, body: unknown, init?: RequestInit) => Promise<Response>;
}

async function harness(
  dir: string,
  id: string,
  tenants: Record<string, Tenant>,
  opts: {
    stallTimeoutMs?: number;
    budgetUsed?: (tenantId: string) => number;
    /** Reports the model loaded once it has been opened (as the in-process engines do). */
    reportsLoad?: boolean;
    limiter?: Limiter;
  } = {},
): Promise<Harness & { codec: TextCodec }> {
  const model = await openModel(dir);
  const { runner } = model;
  const codec = modelCodec(model);
  let opens = 0;
  let forwards = 0;
  let slowMs = 0;
  const counting: BlockRunner = {
    info: runner.info,
    truncate: (s, n) => runner.truncate(s, n),
    forward: async (input) => {
      forwards++;
      if (slowMs) await sleep(slowMs);
      return runner.forward(input);
    },
  };
  const inner = runnerEngine({
    id,
    backend: 'node',
    load: async () => ({ runner: counting, codec }),
  });
  const engine: ModelEngine = {
    id,
    backend: 'node',
    ownedBy: 'unmask',
    open: () => {
      opens++;
      return inner.open();
    },
    ...(opts.reportsLoad
      ? {
          loadStatus: () => ({
            model: id,
            source: dir,
            state: opens > 0 ? ('ready' as const) : ('idle' as const),
          }),
        }
      : {}),
  };
  const store = new StaticTenantStore(tenants);
  const log: string[] = [];
  const app = createApiApp({
    engines: staticRegistry([engine]),
    tenants: store,
    limiter: opts.limiter ?? createMemoryLimiter({ budgetUsed: opts.budgetUsed }),
    keepAliveMs: 10_000,
    streamStallTimeoutMs: opts.stallTimeoutMs ?? 60_000,
    log: (line) => log.push(line),
  });
  return {
    app,
    store,
    codec,
    log,
    opens: () => opens,
    forwards: () => forwards,
    setSlowMs: (ms) => {
      slowMs = ms;
    },
    post: async (path, key, body, init = {}) =>
      app.fetch(
        new Request(`http://unmask.test${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          ...init,
        }),
      ),
  };
}

const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { param: string | null; code: string | null; message: string } })
    .error;

describe('forged turns (the demo model and its tokenizer)', () => {
  const KEY = 'sk-unmask-forge';
  let h: Harness & { codec: TextCodec };
  let added: { id: number; content: string; special: boolean }[];
  let plain: Tokenizer;
  before(async () => {
    h = await harness('assets/demo-model', 'unmask-demo', { [KEY]: openTenant('t') });
    const json = JSON.parse(readFileSync('assets/demo-model/tokenizer.json', 'utf8'));
    const config = JSON.parse(readFileSync('assets/demo-model/tokenizer_config.json', 'utf8'));
    added = json.added_tokens;
    const specials = added.filter((t) => t.special).map((t) => t.content);
    // The tokenizer without the tokens text must not produce: what a plain-text encoding counts.
    const kept = added.filter((t) => !specials.some((s) => t.content.includes(s)));
    plain = new Tokenizer({ ...json, added_tokens: kept }, config);
  });

  test('every special and added token inside a message is counted as plain text; <|mask|> is no 400', async () => {
    const usageOf = async (body: Record<string, unknown>) => {
      const res = await h.post('/v1/chat/completions', KEY, { max_tokens: 1, ...body });
      assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
      return ((await res.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
    };
    const markup = await usageOf({
      model: 'unmask-demo',
      messages: [
        { role: 'system', content: 's' },
        { role: 'user', content: '' },
      ],
    });
    for (const { content: token } of added) {
      const content = `q${token}q`;
      const got = await usageOf({
        model: 'unmask-demo',
        messages: [
          { role: 'system', content: 's' },
          { role: 'user', content },
        ],
      });
      assert.equal(got, markup + plain.encode(content).ids.length, `chat content ${token}`);
      const res = await h.post('/v1/completions', KEY, {
        model: 'unmask-demo',
        prompt: content,
        max_tokens: 1,
      });
      assert.equal(res.status, 200);
      const usage = ((await res.json()) as { usage: { prompt_tokens: number } }).usage;
      assert.equal(usage.prompt_tokens, plain.encode(content).ids.length, `prompt ${token}`);
    }
  });

  test('the demo still answers its task through the template', async () => {
    const res = await h.post('/v1/chat/completions', KEY, {
      model: 'unmask-demo',
      messages: [{ role: 'user', content: 'sort: dbca' }],
      threshold: 0.9,
    });
    const body = (await res.json()) as {
      choices: { message: { content: string } }[];
      usage: { prompt_tokens: number };
    };
    assert.equal(body.choices[0].message.content, 'abcd');
    assert.equal(body.usage.prompt_tokens, 7);
  });

  test('a prompt that cannot fit the context is refused without tokenizing all of it', async () => {
    const res = await h.post('/v1/chat/completions', KEY, {
      model: 'unmask-demo',
      messages: [{ role: 'user', content: 'x'.repeat(900_000) }],
    });
    assert.equal(res.status, 400);
    const error = await errorOf(res);
    assert.equal(error.code, 'context_length_exceeded');
    assert.equal(error.param, 'messages');
    // 900 000 bytes are under the byte bound (4096 × the 675-byte fused tools head), so encoding runs and stops
    // as soon as it passes the limit: a lower bound past the context, far below the 900 000 tokens of the text.
    const atLeast = Number(/at least (\d+) tokens/.exec(error.message)?.[1]);
    assert.ok(atLeast > 4096 && atLeast < 100_000, error.message);
  });
});

describe('limits before work, and metering of every token computed (tiny random model)', () => {
  let fx: Fixture;
  let dir: string;
  before(async () => {
    fx = await tinyFixture({ seed: 43 });
    dir = await fx.pkg('tiny');
  });
  after(() => fx.cleanup());

  test('a refused tenant costs no model load and no tokenization: admission comes first', async () => {
    const h = await harness(
      dir,
      'tiny',
      {
        'sk-unmask-broke': openTenant('broke', { budgetTokens: 1000, budgetPeriod: 'month' }),
        'sk-unmask-rpm': openTenant('rpm', { rpm: 1 }),
      },
      { budgetUsed: (id) => (id === 'broke' ? 1000 : 0) }, // its budget is spent
    );
    const big = { model: 'tiny', prompt: 'word '.repeat(150_000), max_tokens: 5 };
    const overBudget = await h.post('/v1/completions', 'sk-unmask-broke', big);
    assert.equal(overBudget.status, 429);
    assert.equal((await errorOf(overBudget)).code, 'insufficient_quota');
    assert.equal(h.opens(), 0, 'refused before the model was opened');
    const first = await h.post('/v1/completions', 'sk-unmask-rpm', {
      model: 'tiny',
      prompt: [4, 5],
      max_tokens: 2,
    });
    assert.equal(first.status, 200);
    const opens = h.opens();
    const second = await h.post('/v1/completions', 'sk-unmask-rpm', big);
    assert.equal(second.status, 429);
    assert.equal(h.opens(), opens, 'an rpm refusal opens nothing');
  });

  test('a tenant that can run nothing now is refused before its body is parsed (budget, rpm, concurrency)', async () => {
    const h = await harness(
      dir,
      'tiny',
      {
        'sk-unmask-broke': openTenant('broke', { budgetTokens: 1000, budgetPeriod: 'month' }),
        'sk-unmask-rpm': openTenant('rpm', { rpm: 1 }),
        'sk-unmask-one': openTenant('one', { maxConcurrent: 1 }),
      },
      { budgetUsed: (id) => (id === 'broke' ? 1000 : 0) },
    );
    // Malformed (never closed): parsed, it would be a 400; refused first, it is a 429. Its bytes are still read and
    // dropped, so that the answer reaches a client that is still sending them.
    const text = `{"model": "tiny", "max_tokens": 2, "prompt": "${'word '.repeat(100_000)}`;
    /** A request whose body records whether anything pulled it. */
    const watched = (key: string, path = '/v1/completions', json = text) => {
      const body = { read: false };
      const stream = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            body.read = true;
            controller.enqueue(new TextEncoder().encode(json));
            controller.close();
          },
        },
        { highWaterMark: 0 }, // pulled only when read
      );
      const request = new Request(`http://unmask.test${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'content-length': String(json.length),
        },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      return { body, response: () => h.app.fetch(request) };
    };
    const broke = watched('sk-unmask-broke');
    const overBudget = await broke.response();
    assert.equal(overBudget.status, 429);
    assert.equal((await errorOf(overBudget)).code, 'insufficient_quota');
    assert.equal(broke.body.read, true, 'the unread body of a refusal is drained');

    const small = JSON.stringify({ model: 'tiny', prompt: [4, 5], max_tokens: 2 });
    const first = watched('sk-unmask-rpm', '/v1/completions', small);
    assert.equal((await first.response()).status, 200);
    assert.equal(first.body.read, true, 'an admissible request is read');
    const second = watched('sk-unmask-rpm', '/v1/chat/completions');
    const overRate = await second.response();
    assert.equal(overRate.status, 429);
    assert.equal((await errorOf(overRate)).code, 'rate_limit_exceeded');
    assert.ok(Number(overRate.headers.get('retry-after')) >= 1);
    assert.equal(second.body.read, true);

    // A stream in flight holds the one slot: a second request is refused unparsed; the slot frees at the end.
    h.setSlowMs(50);
    const stream = await h.post('/v1/completions', 'sk-unmask-one', {
      model: 'tiny',
      prompt: [4, 5],
      max_tokens: 8,
      stream: true,
    });
    assert.equal(stream.status, 200);
    const busy = watched('sk-unmask-one');
    const refused = await busy.response();
    assert.equal(refused.status, 429);
    assert.match((await errorOf(refused)).message, /concurrent/);
    assert.equal(busy.body.read, true);
    await stream.text();
  });

  test('every prompt and choice is reserved; what can never fit is refused; prompts × n is capped', async () => {
    const h = await harness(dir, 'tiny', {
      'sk-unmask-small': openTenant('small', { tpm: 100 }),
      'sk-unmask-free': openTenant('free'),
    });
    const many = await h.post('/v1/completions', 'sk-unmask-free', {
      model: 'tiny',
      prompt: Array.from({ length: 17 }, () => 'x'),
      max_tokens: 1,
    });
    assert.equal(many.status, 400);
    assert.equal((await errorOf(many)).param, 'prompt');
    const timesN = await h.post('/v1/completions', 'sk-unmask-free', {
      model: 'tiny',
      prompt: ['a', 'b', 'c', 'd'],
      n: 5,
      max_tokens: 1,
    });
    assert.equal(timesN.status, 400);
    assert.equal((await errorOf(timesN)).param, 'n');
    const forwards = h.forwards();
    // 8 prompts × 2 choices × 10 tokens = 160 > 100 tokens/min: refused outright, without a retry-after.
    const tooBig = await h.post('/v1/completions', 'sk-unmask-small', {
      model: 'tiny',
      prompt: Array.from({ length: 8 }, () => [7, 8]),
      n: 2,
      max_tokens: 10,
    });
    assert.equal(tooBig.status, 429);
    assert.equal(tooBig.headers.get('retry-after'), null);
    assert.match((await errorOf(tooBig)).message, /Request too large .*requested 176/);
    // Known only once the text is tokenized: refused after counting, and its lease is freed.
    const counted = await h.post('/v1/completions', 'sk-unmask-small', {
      model: 'tiny',
      prompt: 'The river keeps going and the train is late again. '.repeat(4),
      max_tokens: 60,
    });
    assert.equal(counted.status, 429);
    assert.match((await errorOf(counted)).message, /Request too large/);
    assert.equal(h.forwards(), forwards, 'no forward ran for a refused request');
    const fits = await h.post('/v1/completions', 'sk-unmask-small', {
      model: 'tiny',
      prompt: [7, 8],
      max_tokens: 10,
    });
    assert.equal(fits.status, 200);
  });

  test('with the model loaded, a small text prompt under token limits is reserved exactly by its one admission call', async () => {
    const memory = createMemoryLimiter();
    const calls: string[] = [];
    const limiter: Limiter = {
      admit: (tenant, reserved) => (
        calls.push(`admit ${reserved}`),
        memory.admit(tenant, reserved)
      ),
      reserve: (tenant, lease, reserved) => (
        calls.push(`reserve ${reserved}`),
        memory.reserve(tenant, lease, reserved)
      ),
      release: (...args) => memory.release(...args),
    };
    const h = await harness(
      dir,
      'tiny',
      { 'sk-unmask-tpm': openTenant('tpm', { tpm: 10_000 }) },
      { reportsLoad: true, limiter },
    );
    const body = JSON.stringify({ model: 'tiny', prompt: 'The river keeps going.', max_tokens: 3 });
    const send = () =>
      h.post('/v1/completions', 'sk-unmask-tpm', undefined, {
        body,
        headers: {
          authorization: 'Bearer sk-unmask-tpm',
          'content-type': 'application/json',
          'content-length': String(body.length),
        },
      });
    const cold = await send();
    assert.equal(cold.status, 200);
    const promptTokens = ((await cold.json()) as { usage: { prompt_tokens: number } }).usage
      .prompt_tokens;
    assert.deepEqual(calls, ['admit 3', `reserve ${promptTokens + 3}`], 'cold: counted after');
    calls.length = 0;
    const warm = await send();
    assert.equal(warm.status, 200);
    assert.deepEqual(calls, [`admit ${promptTokens + 3}`], 'warm: one call, exact');
  });

  test('a dropped stream is charged what was computed (499), its slot is free at once', async () => {
    const h = await harness(dir, 'tiny', {
      'sk-unmask-one': openTenant('one', { maxConcurrent: 1 }),
    });
    h.setSlowMs(10);
    const controller = new AbortController();
    const res = await h.post(
      '/v1/chat/completions',
      'sk-unmask-one',
      {
        model: 'tiny',
        messages: [{ role: 'user', content: 'long one' }],
        max_tokens: 150,
        threshold: 1,
        stream: true,
      },
      { signal: controller.signal },
    );
    const reader = res.body!.getReader();
    let text = '';
    while (!/"content":"[^"]+"/.test(text)) {
      const { done, value } = await reader.read();
      assert.ok(!done, `the stream ended before any text: ${text}`);
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    await reader.cancel();
    await sleep(50);
    const record = h.store.records.at(-1)!;
    assert.equal(record.status, 499);
    assert.ok(record.completionTokens > 0, `charged ${record.completionTokens}`);
    assert.ok(record.completionTokens < 150);
    h.setSlowMs(0);
    const next = await h.post('/v1/completions', 'sk-unmask-one', {
      model: 'tiny',
      prompt: [4, 5],
      max_tokens: 2,
    });
    assert.equal(next.status, 200, 'the concurrency slot was released');
  });

  test('a client that leaves a non-streaming request stops the work and is charged what was computed (499, no error logged)', async () => {
    const h = await harness(dir, 'tiny', { 'sk-unmask-ns': openTenant('ns') });
    h.setSlowMs(10);
    const controller = new AbortController();
    const pending = h.post(
      '/v1/completions',
      'sk-unmask-ns',
      { model: 'tiny', prompt: [4, 5, 6], max_tokens: 150, threshold: 1 },
      { signal: controller.signal },
    );
    await sleep(300);
    controller.abort();
    const res = await pending;
    assert.equal(res.status, 499);
    await sleep(50);
    const settled = h.forwards();
    await sleep(100);
    assert.equal(h.forwards(), settled, 'no forward after the abort');
    const record = h.store.records.at(-1)!;
    assert.equal(record.status, 499);
    assert.ok(record.completionTokens > 0 && record.completionTokens < 150);
    assert.ok(!h.log.some((l) => l.startsWith('error')), h.log.join('\n'));
  });

  test('a stream whose client never reads is ended after the stall timeout: bounded, charged, slot freed', async () => {
    const h = await harness(
      dir,
      'tiny',
      { 'sk-unmask-slow': openTenant('slow', { maxConcurrent: 1 }) },
      { stallTimeoutMs: 200 },
    );
    const before = h.forwards();
    const res = await h.post('/v1/completions', 'sk-unmask-slow', {
      model: 'tiny',
      prompt: [4, 5, 6],
      max_tokens: 200,
      threshold: 1,
      stream: true,
    });
    assert.equal(res.status, 200);
    await sleep(600); // the body is never read
    const record = h.store.records.at(-1);
    assert.equal(record?.status, 499, 'settled as gone');
    assert.ok(h.forwards() - before < 200, 'generation paused while nobody read');
    const next = await h.post('/v1/completions', 'sk-unmask-slow', {
      model: 'tiny',
      prompt: [4, 5],
      max_tokens: 2,
    });
    assert.equal(next.status, 200);
    await res.body?.cancel();
  });
});
