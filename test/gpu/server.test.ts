/**
 * The GPU server as a real process on the tiny model (CPU provider): the internal API gives the direct loop's
 * tokens, concurrent requests share forwards and still get their unbatched tokens, auth and validation answer
 * with the error envelope, health and metrics stay responsive under load, and a client abort leaves the batch.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, type DecodeResult } from '../../src/decode/index.ts';
import type { BlockRunner } from '../../src/decode/runner.ts';
import { openModel } from '../../backends/node/open-model.ts';
import {
  MODEL_PATH,
  type GenerateRequest,
  type ModelDescription,
  type PoolEvent,
} from '../../src/dispatch/pool/protocol.ts';
import { randomIds, tinyFixture, type Fixture } from '../fixtures/export.ts';
import {
  collect,
  generateRequest,
  metric,
  poolEvents,
  scrape,
  SECRET,
  spawnServer,
  until,
  type ServerProcess,
} from '../fixtures/gpu-server.ts';

const MODEL = 'tiny-gpu';

/** Different prompt lengths (some with complete prompt blocks, so a prefill), block sizes and samplers. */
const CASES: { prompt: number; options: GenerateRequest['options'] }[] = [
  { prompt: 5, options: { maxTokens: 40, blockLength: 8, threshold: 0.9 } },
  { prompt: 8, options: { maxTokens: 33, blockLength: 8, threshold: 0.5 } },
  { prompt: 13, options: { maxTokens: 24, blockLength: 4, threshold: 0.7, steps: 2 } },
  { prompt: 21, options: { maxTokens: 48, blockLength: 16, threshold: 0.95, steps: 20 } },
  {
    prompt: 9,
    options: {
      maxTokens: 40,
      blockLength: 8,
      threshold: 0.8,
      temperature: 0.9,
      topK: 20,
      topP: 0.9,
      seed: 7,
    },
  },
  {
    prompt: 17,
    options: { maxTokens: 40, blockLength: 8, threshold: 0.6, temperature: 1.2, seed: 3 },
  },
  {
    prompt: 12,
    options: {
      maxTokens: 40,
      blockLength: 8,
      threshold: 0.9,
      eosEarlyStop: true,
      algorithm: 'hierarchy',
    },
  },
  { prompt: 40, options: { maxTokens: 64, blockLength: 8, threshold: 0.9 } },
  { prompt: 70, options: { maxTokens: 64, blockLength: 8, threshold: 0.7 } },
  { prompt: 3, options: { maxTokens: 64, blockLength: 8, threshold: 0.99 } },
];

/** A long greedy generation: threshold 1 commits exactly one token per step, so it takes max_tokens forwards. */
const LONG = (seed: number, maxTokens = 512): GenerateRequest => ({
  model: MODEL,
  prompt_ids: randomIds(6, 400, seed),
  options: { maxTokens: maxTokens, blockLength: 32, threshold: 1 },
});

function done(events: PoolEvent[]) {
  const last = events.at(-1);
  assert.equal(last?.type, 'done', `stream ended with ${JSON.stringify(last)}`);
  return (last as Extract<PoolEvent, { type: 'done' }>).result;
}

describe('GPU server (CPU provider, tiny model)', () => {
  let fx: Fixture;
  let server: ServerProcess;
  let runner: BlockRunner;
  let vocab: number;

  before(async () => {
    fx = await tinyFixture({ seed: 9 });
    const dir = await fx.pkg('fp32', { name: MODEL });
    const started = spawnServer({ model: dir, args: ['--max-batch', '16', '--max-queue', '8'] });
    runner = (await openModel(dir, { runtime: 'node' })).runner;
    vocab = runner.info.vocabSize;
    server = await started;
  });
  after(async () => {
    await server?.stop();
    await fx?.cleanup();
  });

  test("one request: the direct loop's tokens, block events concatenating to the result", async () => {
    const { prompt, options } = CASES[0];
    const ids = randomIds(prompt, vocab - 8, 100);
    const want = await generate(runner, ids, options);
    const events = await collect(server.url, { model: MODEL, prompt_ids: ids, options });
    const result = done(events);
    assert.deepEqual(result.tokens, want.tokens);
    assert.equal(result.finishReason, want.finishReason);
    const blocks = events.filter((e) => e.type === 'block');
    assert.deepEqual(
      blocks.flatMap((e) => e.tokens),
      want.tokens,
    );
    assert.equal(
      events.filter((e) => e.type === 'step').length,
      0,
      'no step events without denoise',
    );
  });

  test('denoise streams the step events too', async () => {
    const ids = randomIds(7, vocab - 8, 5);
    const events = await collect(server.url, {
      model: MODEL,
      prompt_ids: ids,
      options: { maxTokens: 16, blockLength: 8 },
      denoise: true,
    });
    const steps = events.filter((e) => e.type === 'step');
    assert.equal(steps.length, done(events).stats.forwards);
    assert.ok(steps.every((s) => Array.isArray(s.committed) && Array.isArray(s.masked)));
  });

  test('concurrent requests share forwards and each gets its unbatched tokens', async (t) => {
    const before = await scrape(server.url);
    const ids = CASES.map((c, i) => randomIds(c.prompt, vocab - 8, 100 + i));
    const want: DecodeResult[] = [];
    for (let i = 0; i < CASES.length; i++)
      want.push(await generate(runner, ids[i], CASES[i].options));
    const got = await Promise.all(
      CASES.map((c, i) =>
        collect(server.url, { model: MODEL, prompt_ids: ids[i], options: c.options }),
      ),
    );
    got.forEach((events, i) => {
      const r = done(events);
      assert.deepEqual(r.tokens, want[i].tokens, `case ${i} (${JSON.stringify(CASES[i].options)})`);
      assert.equal(r.finishReason, want[i].finishReason, `case ${i}`);
      assert.equal(r.stats.forwards, want[i].stats.forwards, `case ${i}: NFE`);
    });
    const after = await scrape(server.url);
    const forwards =
      metric(after, 'unmask_batched_forwards_total') -
      metric(before, 'unmask_batched_forwards_total');
    const sequences =
      metric(after, 'unmask_forward_sequences_total') -
      metric(before, 'unmask_forward_sequences_total');
    const nfe = want.reduce((s, r) => s + r.stats.forwards, 0);
    assert.equal(sequences, nfe, 'every sequence forward was run exactly once');
    t.diagnostic(
      `${sequences} sequence forwards in ${forwards} forwards (${(sequences / forwards).toFixed(2)} per forward)`,
    );
    assert.ok(sequences / forwards > 2, `sequences per forward ${sequences}/${forwards}`);
  });

  test('a repeated prompt prefix is served from the prefix cache: same tokens, no prefill', async () => {
    const system = randomIds(40, vocab - 8, 4242);
    const options = { maxTokens: 24, blockLength: 8, threshold: 0.8 };
    const first = done(
      await collect(server.url, { model: MODEL, prompt_ids: [...system, 1, 2, 3], options }),
    );
    const ids = [...system, 7, 7, 7];
    const want = await generate(runner, ids, options);
    const second = done(await collect(server.url, { model: MODEL, prompt_ids: ids, options }));
    assert.equal(first.stats.cachedPromptTokens, 0);
    assert.deepEqual(second.tokens, want.tokens);
    assert.equal(second.stats.cachedPromptTokens, 40);
    assert.equal(second.stats.prefillForwards, 0);
  });

  test('the model description carries the tokenizer and runner info', async () => {
    const res = await fetch(`${server.url}${MODEL_PATH}`, {
      headers: { authorization: `Bearer ${SECRET}` },
    });
    assert.equal(res.status, 200);
    const desc = (await res.json()) as ModelDescription;
    assert.equal(desc.id, MODEL);
    assert.deepEqual(desc.info, runner.info);
    assert.ok('model' in desc.tokenizer, 'tokenizer.json');
    assert.equal(typeof desc.tokenizer_config, 'object');
  });

  test('a missing or wrong secret gets 401 with the error envelope; health and metrics are public', async () => {
    for (const secret of [null, 'wrong', `${SECRET}x`]) {
      const res = await generateRequest(server.url, LONG(1, 8), { secret });
      assert.equal(res.status, 401);
      const body = (await res.json()) as { error: { type: string } };
      assert.equal(body.error.type, 'authentication_error');
    }
    assert.equal((await fetch(`${server.url}${MODEL_PATH}`)).status, 401);
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    assert.equal((await fetch(`${server.url}/metrics`)).status, 200);
  });

  test('bad requests get 400 with the error envelope naming the field', async () => {
    const base = { model: MODEL, prompt_ids: [1, 2, 3], options: { maxTokens: 8 } };
    const cases: [unknown, string | null, string | null][] = [
      ['{not json', null, 'invalid_json'],
      [{ model: MODEL, prompt_ids: [1] }, 'options', null],
      [{ ...base, prompt_ids: [1, 'x'] }, 'prompt_ids.1', null],
      [{ ...base, prompt_ids: [1, vocab + 5] }, 'prompt_ids', null],
      [{ ...base, options: { maxTokens: 8, threshold: 2 } }, 'threshold', null],
      [{ ...base, options: { maxTokens: 8, algorithm: 'nope' } }, 'strategy', null],
      [{ ...base, options: { maxTokens: 100_000 } }, 'max_tokens', 'context_length_exceeded'],
      [{ ...base, model: 'other' }, 'model', 'model_not_found'],
    ];
    for (const [body, param, code] of cases) {
      const res = await generateRequest(server.url, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const { error } = (await res.json()) as {
        error: { type: string; param: string | null; code: string | null; message: string };
      };
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(error.param, param, `${JSON.stringify(body)} → ${error.message}`);
      if (code) assert.equal(error.code, code);
    }
  });

  test('health and metrics answer quickly while a long batch runs', async (t) => {
    const ac = new AbortController();
    const streams = [1, 2, 3, 4].map(async (seed) => {
      try {
        const res = await generateRequest(server.url, LONG(seed), { signal: ac.signal });
        for await (const _ of poolEvents(res)) {
          /* drain */
        }
      } catch {
        /* aborted below */
      }
    });
    await until(
      async () => metric(await scrape(server.url), 'vllm:num_requests_running') === 4,
      5000,
      '4 running',
    );
    const worst = { health: 0, metrics: 0 };
    for (let i = 0; i < 10; i++) {
      let t = performance.now();
      const h = await fetch(`${server.url}/health`);
      worst.health = Math.max(worst.health, performance.now() - t);
      assert.equal(h.status, 200);
      t = performance.now();
      const m = await scrape(server.url);
      worst.metrics = Math.max(worst.metrics, performance.now() - t);
      assert.equal(metric(m, 'vllm:num_requests_running'), 4, 'still under load');
      await new Promise((r) => setTimeout(r, 20));
    }
    t.diagnostic(
      `worst latency under load: health ${worst.health.toFixed(1)} ms, metrics ${worst.metrics.toFixed(1)} ms`,
    );
    ac.abort();
    await Promise.all(streams);
    // A forward of the batch takes a few ms; the HTTP thread never waits for one.
    assert.ok(
      worst.health < 250 && worst.metrics < 250,
      `worst latencies ${JSON.stringify(worst)} ms`,
    );
    await until(
      async () => metric(await scrape(server.url), 'vllm:num_requests_running') === 0,
      5000,
      'the batch to empty',
    );
  });

  test('a client abort mid-stream takes the sequence out of the batch', async () => {
    const m0 = await scrape(server.url);
    const ac = new AbortController();
    const res = await generateRequest(server.url, LONG(9, 960), { signal: ac.signal });
    const events = poolEvents(res);
    const first = await events.next();
    assert.equal(first.value?.type, 'block');
    assert.equal(metric(await scrape(server.url), 'vllm:num_requests_running'), 1);
    ac.abort();
    await until(
      async () => metric(await scrape(server.url), 'vllm:num_requests_running') === 0,
      3000,
      'running to drop',
    );
    const a = await scrape(server.url);
    await new Promise((r) => setTimeout(r, 300));
    const b = await scrape(server.url);
    assert.equal(
      metric(b, 'unmask_forward_sequences_total'),
      metric(a, 'unmask_forward_sequences_total'),
      'no forwards after the abort',
    );
    assert.ok(metric(a, 'unmask_forward_sequences_total') > 0);
    assert.equal(
      metric(b, 'unmask_requests_aborted_total'),
      metric(m0, 'unmask_requests_aborted_total') + 1,
    );
    // 960 tokens at one per forward: it left long before the end.
    const generated =
      metric(b, 'vllm:generation_tokens_total') - metric(m0, 'vllm:generation_tokens_total');
    assert.ok(generated > 0 && generated < 960, `generated ${generated}`);
  });

  test('metrics use the vLLM names', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    for (const name of [
      'vllm:time_to_first_token_seconds_bucket',
      'vllm:e2e_request_latency_seconds_sum',
      'vllm:num_requests_running',
      'vllm:num_requests_waiting',
      'vllm:prompt_tokens_total',
      'vllm:generation_tokens_total',
      'vllm:diffusion_num_denoising_steps_total',
      'vllm:diffusion_num_committed_tokens_total',
      'unmask_batched_forwards_total',
    ])
      assert.match(text, new RegExp(`^${name}[{ ]`, 'm'), name);
    assert.match(text, /^# TYPE vllm:time_to_first_token_seconds histogram$/m);
    assert.match(text, /vllm:num_requests_running\{model_name="tiny-gpu"\} \d/);
    assert.ok(metric(await scrape(server.url), 'vllm:time_to_first_token_seconds_count') > 0);
  });
});
