/**
 * The decode loop on the real exported graph: cached mode gives the reference mode's tokens exactly
 * (fp32; greedy and seeded sampling; several prompts, block sizes and thresholds), on ORT-node and ORT-web; and
 * a shared prompt prefix served from the prefix cache changes no token.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PrefixCache, generate, type DecodeOptions } from '../../src/decode/index.ts';
import { openModel } from '../../backends/node/open-model.ts';
import type { BlockRunner } from '../../src/decode/runner.ts';
import { randomIds, tinyFixture, type Fixture } from '../fixtures/export.ts';

const CASES: { prompt: number; opts: DecodeOptions }[] = [
  { prompt: 5, opts: { maxTokens: 40, blockLength: 8, threshold: 0.9 } },
  { prompt: 8, opts: { maxTokens: 33, blockLength: 8, threshold: 0.5 } },
  { prompt: 13, opts: { maxTokens: 24, blockLength: 4, threshold: 0.7, steps: 2 } },
  { prompt: 21, opts: { maxTokens: 48, blockLength: 16, threshold: 0.95, steps: 20 } },
  {
    prompt: 9,
    opts: {
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
    opts: { maxTokens: 40, blockLength: 8, threshold: 0.6, temperature: 1.2, seed: 3 },
  },
  {
    prompt: 12,
    opts: {
      maxTokens: 40,
      blockLength: 8,
      threshold: 0.9,
      eosEarlyStop: true,
      algorithm: 'hierarchy',
    },
  },
];

describe('decode on the exported graph', () => {
  let fx: Fixture;
  let node: BlockRunner;
  let wasm: BlockRunner;
  before(async () => {
    fx = await tinyFixture({ seed: 9 });
    const dir = await fx.pkg('fp32');
    node = (await openModel(dir, { runtime: 'node' })).runner;
    wasm = (await openModel(dir, { runtime: 'wasm' })).runner;
  });
  after(() => fx.cleanup());

  CASES.forEach(({ prompt, opts }, i) => {
    test(`case ${i}: cached = reference, node = wasm (${JSON.stringify(opts)})`, async () => {
      const ids = randomIds(prompt, node.info.vocabSize - 8, 100 + i);
      const ref = await generate(node, ids, { ...opts, mode: 'reference' });
      const cached = await generate(node, ids, { ...opts, mode: 'cached' });
      assert.deepEqual(cached.tokens, ref.tokens);
      assert.equal(cached.finishReason, ref.finishReason);
      assert.ok(
        cached.stats.forwards <= ref.stats.forwards + 1,
        `NFE cached ${cached.stats.forwards} vs reference ${ref.stats.forwards}`,
      );
      const web = await generate(wasm, ids, { ...opts, mode: 'cached' });
      assert.deepEqual(web.tokens, cached.tokens);
    });
  });

  test('prefix cache on the graph: a partial hit (later blocks prefilled against cached K/V) and a full hit give the same tokens', async () => {
    const cache = new PrefixCache();
    const system = randomIds(24, node.info.vocabSize - 8, 77);
    for (const [i, opts] of [
      { blockLength: 8, threshold: 0.9 },
      { blockLength: 4, threshold: 0.6, temperature: 0.8, seed: 5 },
    ].entries()) {
      for (const tail of [
        randomIds(11, node.info.vocabSize - 8, 200 + i),
        randomIds(6, node.info.vocabSize - 8, 300 + i),
      ]) {
        const ids = [...system, ...tail];
        const plain = await generate(node, ids, { ...opts, maxTokens: 24 });
        const viaCache = await generate(node, ids, { ...opts, maxTokens: 24, prefixCache: cache });
        const again = await generate(node, ids, { ...opts, maxTokens: 24, prefixCache: cache });
        assert.deepEqual(viaCache.tokens, plain.tokens);
        assert.deepEqual(again.tokens, plain.tokens);
        assert.equal(again.stats.prefillForwards, 0);
      }
    }
    assert.ok(cache.hits >= 6, `hits ${cache.hits}`);
    assert.ok(
      cache.bytes > 0 && cache.bytes <= cache.maxBytes,
      `onnxruntime states report their bytes (${cache.bytes})`,
    );
  });

  test('threshold decoding commits several tokens per forward and the fallback also runs', async () => {
    const ids = randomIds(10, node.info.vocabSize - 8, 1);
    const r = await generate(node, ids, { maxTokens: 64, blockLength: 32, threshold: 0.9 });
    assert.ok(r.stats.tokensPerForward > 1, `TPF ${r.stats.tokensPerForward}`);
    assert.ok(r.stats.forwards > 3, 'some steps fell back to top-1');
  });
});
