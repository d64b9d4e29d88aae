import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunnerInfo } from '../../../src/decode/runner.ts';
import { bearerMatches } from './auth.ts';
import { ApiError } from '../../../src/api/errors.ts';
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

test('maps the snake_case options onto DecodeOptions and fixes the seed', () => {
  const r = parseGenerate(
    {
      model: 'm',
      prompt_ids: [1, 2],
      options: { max_tokens: 8, top_k: 3, strategy: 'hierarchy', eos_early_stop: true },
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
    parseGenerate({ model: 'm', prompt_ids: [1], options: { max_tokens: 8, seed: 5 } }, 'm', info)
      .options.seed,
    5,
  );
});

test('bad requests name the request field', () => {
  const base = { model: 'm', prompt_ids: [1], options: { max_tokens: 8 } };
  assert.equal(error({ ...base, options: {} }).param, 'options.max_tokens');
  assert.equal(error({ ...base, prompt_ids: [508] }).param, 'prompt_ids');
  assert.equal(error({ ...base, options: { max_tokens: 8, top_p: 0 } }).param, 'top_p');
  const ctx = error({ ...base, options: { max_tokens: 5000 } });
  assert.deepEqual(
    [ctx.status, ctx.param, ctx.code],
    [400, 'max_tokens', 'context_length_exceeded'],
  );
  assert.equal(error({ ...base, model: 'x' }).code, 'model_not_found');
});

test('bearer auth matches only the exact secret', () => {
  assert.ok(bearerMatches('Bearer s3cret', 's3cret'));
  assert.ok(bearerMatches('bearer  s3cret ', 's3cret'));
  for (const h of [undefined, '', 's3cret', 'Bearer s3cre', 'Bearer s3crett', 'Basic s3cret'])
    assert.ok(!bearerMatches(h, 's3cret'), String(h));
});
