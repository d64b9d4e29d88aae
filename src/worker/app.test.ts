/**
 * The Worker app through app.request() with a fake engine over the toy runner: health states, generate =
 * decode's generate, error envelopes (400 for bad input, 503 for a failed load, 500 without internals).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from '../decode/index.ts';
import { ToyRunner } from '../decode/testing/toy-runner.ts';
import type { Manifest } from '../model/manifest.ts';
import { ModelLoadError } from '../model/store.ts';
import { TemplateError, type TextCodec } from '../model/text-codec.ts';
import { createWorkerApp } from './app.ts';
import type { EdgeModel, EngineStatus, ModelEngine } from './engine.ts';

const codec = {
  decode: (ids: ArrayLike<number>) => Array.from(ids).join(' '),
  encode: (text: string) => [...text].map((ch) => ch.charCodeAt(0) % 40),
  applyChatTemplate: () => {
    throw new TemplateError('this model package has no chat template');
  },
};

class FakeEngine implements ModelEngine {
  readonly name = 'toy';
  state: EngineStatus['state'] = 'idle';
  fail: Error | null = null;
  readonly runner = new ToyRunner({ seed: 3 });
  status(): EngineStatus {
    return { state: this.state, model: this.name, source: 'mem://toy' };
  }
  async model(): Promise<EdgeModel> {
    if (this.fail) throw this.fail;
    this.state = 'ready';
    return {
      manifest: { name: 'toy' } as Manifest,
      runner: this.runner,
      codec: codec as unknown as TextCodec,
    };
  }
}

const post = (app: ReturnType<typeof createWorkerApp>, body: unknown) =>
  app.request('/internal/generate', {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('createWorkerApp', () => {
  test('health reflects the engine and never loads', async () => {
    const engine = new FakeEngine();
    const app = createWorkerApp({ engine });
    const res = await app.request('/health');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      status: 'ok',
      loaded: false,
      state: 'idle',
      model: 'toy',
      source: 'mem://toy',
    });
    assert.equal(engine.state, 'idle');
  });

  test('generate returns the decode loop result; text from the codec; prompt through the codec', async () => {
    const engine = new FakeEngine();
    const app = createWorkerApp({ engine });
    const ids = [3, 5, 7, 9];
    const res = await post(app, {
      prompt_ids: ids,
      max_tokens: 16,
      block_length: 4,
      temperature: 0.7,
      seed: 11,
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      tokens: number[];
      text: string;
      finish_reason: string;
      seed: number;
      prompt_tokens: number;
    };
    const want = await generate(engine.runner, ids, {
      maxTokens: 16,
      blockLength: 4,
      temperature: 0.7,
      seed: 11,
    });
    assert.deepEqual(body.tokens, want.tokens);
    assert.equal(body.text, codec.decode(want.tokens));
    assert.equal(body.finish_reason, want.finishReason);
    assert.equal(body.seed, 11);
    assert.equal(body.prompt_tokens, 4);
    const text = await post(app, { prompt: 'hey', max_tokens: 8, block_length: 4 });
    assert.deepEqual(
      ((await text.json()) as { tokens: number[] }).tokens,
      (await generate(engine.runner, codec.encode('hey'), { maxTokens: 8, blockLength: 4 })).tokens,
    );
    assert.equal(
      ((await (await app.request('/health')).json()) as { loaded: boolean }).loaded,
      true,
    );
  });

  test('bad input is a 400 envelope naming the field', async () => {
    const app = createWorkerApp({ engine: new FakeEngine() });
    const cases: [unknown, string | null, string | null][] = [
      ['nope', null, 'invalid_json'],
      [{ prompt_ids: [1], max_tokens: 0 }, 'max_tokens', null],
      [{ prompt_ids: [1], max_tokens: 4, top_p: 0 }, 'top_p', null],
      [{ prompt_ids: [1, 47], max_tokens: 4 }, 'prompt_ids', null],
      [{ prompt: 'x', max_tokens: 4, chat: true }, 'chat', null],
      [{ max_tokens: 4 }, 'prompt', null],
      [{ prompt_ids: ['a'], max_tokens: 4 }, 'prompt_ids.0', null],
      [{ prompt_ids: [1], max_tokens: 4, extra: 1 }, null, null],
    ];
    for (const [body, param, code] of cases) {
      const res = await post(app, body);
      const { error } = (await res.json()) as { error: Record<string, unknown> };
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(error)}`);
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(error.param, param, JSON.stringify(error));
      assert.equal(error.code, code);
    }
  });

  test('a failed load is 503 model_unavailable; an unexpected error is 500 without internals', async () => {
    const engine = new FakeEngine();
    const logged: unknown[] = [];
    const app = createWorkerApp({ engine, onUnexpectedError: (e) => logged.push(e) });
    engine.fail = new ModelLoadError('missing', 'no manifest.json at r2://MODELS/x');
    const unavailable = await post(app, { prompt_ids: [1], max_tokens: 4 });
    assert.equal(unavailable.status, 503);
    assert.equal(
      ((await unavailable.json()) as { error: { code: string } }).error.code,
      'model_unavailable',
    );
    engine.fail = new Error('secret internals');
    const broken = await post(app, { prompt_ids: [1], max_tokens: 4 });
    assert.equal(broken.status, 500);
    assert.doesNotMatch(await broken.text(), /secret/);
    assert.equal(logged.length, 2);
    assert.equal((await app.request('/v1/nothing')).status, 404);
  });
});
