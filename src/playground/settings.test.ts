/** The browser must ask its decode loop for exactly what the API makes of the same knobs (tokens must match). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareOptions } from '../api/serving/prepare.ts';
import { openTenant } from '../api/single-tenant.ts';
import type { OpenModel } from '../api/engine.ts';
import { DEFAULT_KNOBS, decodeOptions, requestBody, type Knobs } from './settings.ts';

const model = {
  info: {
    vocabSize: 269,
    topK: 64,
    maskId: 265,
    eosId: 264,
    maxPositions: 256,
    blockLength: 8,
  },
} as OpenModel;

const variants: Partial<Knobs>[] = [
  {},
  { threshold: 0.5, blockLength: 4, steps: 3, strategy: 'hierarchy' },
  { temperature: 0.7, seed: 11, maxTokens: 9, strategy: 'factor' },
  { steps: 40, strategy: 'entropy_threshold', threshold: 1 },
];

for (const v of variants)
  test(`decodeOptions equals the API's options for ${JSON.stringify(v)}`, () => {
    const knobs: Knobs = { model: 'unmask-demo', ...DEFAULT_KNOBS, ...v };
    const body = requestBody(knobs, [{ role: 'user', content: 'sort: dbca' }], { stream: true });
    const { options } = prepareOptions(
      body as never,
      openTenant('t'),
      model,
      [[1, 2, 3, 4, 5]],
      'messages',
    );
    assert.deepEqual(decodeOptions(knobs), options);
  });

test('the streamed request asks for denoising frames and usage; tools only when given', () => {
  const knobs: Knobs = { model: 'm', ...DEFAULT_KNOBS };
  const body = requestBody(knobs, [{ role: 'user', content: 'x' }], { stream: true });
  assert.deepEqual(body.stream_options, { include_usage: true, include_denoising: true });
  assert.equal('tools' in body, false);
  const withTools = requestBody(knobs, [], { stream: false, tools: [{ type: 'function' }] });
  assert.deepEqual(withTools.tools, [{ type: 'function' }]);
  assert.equal('stream' in withTools, false);
});
