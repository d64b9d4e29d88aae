import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunnerInfo } from '../../../src/decode/runner.ts';
import { Hono } from 'hono';
import { poolAuth } from './auth.ts';
import { ApiError, renderErrors } from '../../../src/api/errors.ts';
import { parseGenerate } from './request.ts';

const info: RunnerInfo = {
  vocabSize: 512,
  topK: 8,
  maskId: 508,
  eosId: 507,
  maxPositions: 1024,
  blockLength: 32,
};

function error(body: unknown): ApiError {
  try {
    parseGenerate(body, 'm', info);
  } catch (e: unknown) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('no error');
}

test('takes the DecodeOptions as sent and fixes the seed', () => {
  const r = parseGenerate(
    {
      model: 'm',
      prompt_ids: [1, 2],
      options: { maxTokens: 8, topK: 3, algorithm: 'hierarchy', eosEarlyStop: true },
    },
    'm',
    info,
  );
  assert.deepEqual(r.promptIds, [1, 2]);
  assert.equal(r.denoise, false);
  const { seed, ...rest } = r.options;
  assert.ok(Number.isSafeInteger(seed));
  assert.deepEqual(rest, { maxTokens: 8, topK: 3, algorithm: 'hierarchy', eosEarlyStop: true });
  assert.equal(
    parseGenerate({ model: 'm', prompt_ids: [1], options: { maxTokens: 8, seed: 5 } }, 'm', info)
      .options.seed,
    5,
  );
});

test('bad requests name the request field', () => {
  const base = { model: 'm', prompt_ids: [1], options: { maxTokens: 8 } };
  assert.equal(error({ ...base, options: {} }).param, 'options.maxTokens');
  assert.equal(error({ ...base, options: { maxTokens: 8, max_tokens: 8 } }).param, 'options');
  assert.equal(error({ ...base, prompt_ids: [508] }).param, 'prompt_ids');
  assert.equal(error({ ...base, options: { maxTokens: 8, topP: 0 } }).param, 'top_p');
  const ctx = error({ ...base, options: { maxTokens: 5000 } });
  assert.deepEqual(
    [ctx.status, ctx.param, ctx.code],
    [400, 'max_tokens', 'context_length_exceeded'],
  );
  assert.equal(error({ ...base, model: 'x' }).code, 'model_not_found');
});

test('the pool secret: only the exact bearer token passes, in the OpenAI error envelope otherwise', async () => {
  const app = new Hono();
  app.onError(renderErrors());
  app.use('/internal/*', poolAuth({ secret: 's3cret' }));
  app.get('/internal/x', (c) => c.text('ok'));
  const status = async (authorization?: string) =>
    (await app.request('/internal/x', authorization ? { headers: { authorization } } : {})).status;
  assert.equal(await status('Bearer s3cret'), 200);
  assert.equal(await status('bearer  s3cret '), 200);
  for (const h of [undefined, 's3cret', 'Bearer s3cre', 'Bearer s3crett', 'Basic s3cret'])
    assert.equal(await status(h), 401, String(h));
  const body = (await (await app.request('/internal/x')).json()) as { error: { code: string } };
  assert.equal(body.error.code, 'invalid_api_key');
  assert.throws(() => poolAuth({ secret: '' }), /must not be empty/);
});
