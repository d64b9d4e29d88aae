/** The prompt-prefix cache: same tokens as without it, fewer prefill positions, exact matching, LRU budget. */
import { assert, test } from './testing/harness.ts';
import { decode, generate } from './decode.ts';
import { PrefixCache } from './prefix-cache.ts';
import { Xoshiro128 } from './prng.ts';
import type { BlockRunner } from './runner.ts';
import { ToyRunner } from './testing/toy-runner.ts';

/** The toy runner without release(): its states are plain values the cache may share. */
function shareable(toy: ToyRunner): BlockRunner {
  return {
    info: toy.info,
    forward: (input) => toy.forward(input),
    truncate: (state, length) => toy.truncate(state, length),
  };
}

function prompt(rng: Xoshiro128, length: number, vocab: number): number[] {
  return Array.from({ length }, () => Math.floor(rng.nextFloat() * (vocab - 2)));
}

test('a warm prefix cache gives the same tokens with no prefill; a cold one the same tokens and NFE', async () => {
  const rng = new Xoshiro128(7);
  for (const B of [4, 8]) {
    for (const P of [B, 2 * B + 1, 3 * B + B - 1]) {
      const toy = new ToyRunner({ seed: 3, blockLength: B });
      const runner = shareable(toy);
      const ids = prompt(rng, P, toy.info.vocabSize);
      const options = { maxTokens: 2 * B, blockLength: B, threshold: 0.7 };
      const plain = await generate(runner, ids, options);
      const cache = new PrefixCache();
      const cold = await generate(runner, ids, { ...options, prefixCache: cache });
      const warm = await generate(runner, ids, { ...options, prefixCache: cache });
      const whole = Math.floor(P / B) * B;
      assert.deepEqual(cold.tokens, plain.tokens);
      assert.deepEqual(warm.tokens, plain.tokens, `B=${B} P=${P}`);
      assert.equal(cold.stats.forwards, plain.stats.forwards);
      assert.equal(cold.stats.cachedPromptTokens, 0);
      assert.equal(warm.stats.cachedPromptTokens, whole);
      assert.equal(warm.stats.prefillForwards, 0);
      assert.equal(warm.stats.forwards, plain.stats.forwards - 1);
      assert.equal(cache.size, whole);
    }
  }
});

test('a shared leading part is reused block by block; one different token in a block ends the match there', async () => {
  const B = 4;
  const toy = new ToyRunner({ seed: 5, blockLength: B });
  const runner = shareable(toy);
  const rng = new Xoshiro128(11);
  const system = prompt(rng, 3 * B, toy.info.vocabSize);
  const cache = new PrefixCache();
  const options = { maxTokens: 8, blockLength: B, threshold: 0.8, prefixCache: cache };
  await generate(runner, [...system, 1, 2, 3, 4, 5], options);

  const other = [...system, 9, 9, 9, 9, 9, 9];
  const plain = await generate(runner, other, { ...options, prefixCache: undefined });
  const before = toy.calls.length;
  const shared = await generate(runner, other, options);
  assert.deepEqual(shared.tokens, plain.tokens);
  assert.equal(shared.stats.cachedPromptTokens, 3 * B);
  assert.deepEqual(
    toy.calls[before],
    { seq: B, pastLength: 3 * B, wantLogits: false, wantPresent: true },
    'only the fourth prompt block is prefilled',
  );

  const changed = [...system];
  changed[B + 1] = (changed[B + 1] + 1) % (toy.info.vocabSize - 2);
  const partial = await generate(runner, [...changed, 7], options);
  assert.equal(
    partial.stats.cachedPromptTokens,
    B,
    'the match stops at the block with the changed token',
  );
  assert.deepEqual(
    partial.tokens,
    (await generate(runner, [...changed, 7], { ...options, prefixCache: undefined })).tokens,
  );
});

test('the budget evicts the least recently used prompt; runners that recycle states and the reference mode never use it', async () => {
  const B = 4;
  const toy = new ToyRunner({ seed: 2, blockLength: B });
  const runner = shareable(toy);
  const rng = new Xoshiro128(3);
  const cache = new PrefixCache({ maxPositions: 3 * B });
  const a = prompt(rng, 2 * B, toy.info.vocabSize);
  const b = prompt(rng, 2 * B, toy.info.vocabSize);
  const options = { maxTokens: 4, blockLength: B, prefixCache: cache };
  await generate(runner, a, options);
  await generate(runner, b, options); // 4B positions > 3B: a goes
  assert.equal(cache.size, 2 * B);
  assert.equal((await generate(runner, b, options)).stats.cachedPromptTokens, 2 * B);
  assert.equal((await generate(runner, a, options)).stats.cachedPromptTokens, 0);

  const recycling = new ToyRunner({ seed: 2, blockLength: B });
  const fresh = new PrefixCache();
  await generate(recycling, a, { ...options, prefixCache: fresh });
  assert.equal(
    (await generate(recycling, a, { ...options, prefixCache: fresh })).stats.cachedPromptTokens,
    0,
  );
  assert.equal(fresh.size, 0);
  assert.equal(recycling.live, 0, 'no state leaked');

  const reference = await generate(runner, b, { ...options, mode: 'reference' });
  assert.equal(reference.stats.cachedPromptTokens, 0);
  assert.throws(() => new PrefixCache({ maxPositions: -1 }), RangeError);
});

test('a byte budget counts the bytes states report', async () => {
  const B = 4;
  const toy = new ToyRunner({ seed: 4, blockLength: B });
  const withBytes = <S extends object>(s: S & { length: number }) => ({
    ...s,
    bytes: s.length * 100,
  });
  const runner: BlockRunner = {
    info: toy.info,
    forward: async (input) => {
      const out = await toy.forward(input);
      return out.present ? { ...out, present: withBytes(out.present) } : out;
    },
    truncate: (state, length) => withBytes(toy.truncate(state, length)),
  };
  const rng = new Xoshiro128(8);
  const cache = new PrefixCache({ maxBytes: 100 * 3 * B });
  const a = prompt(rng, 2 * B, toy.info.vocabSize);
  const b = prompt(rng, 2 * B, toy.info.vocabSize);
  await generate(runner, a, { maxTokens: 4, blockLength: B, prefixCache: cache });
  assert.equal(cache.bytes, 100 * 2 * B);
  await generate(runner, b, { maxTokens: 4, blockLength: B, prefixCache: cache });
  assert.equal(cache.bytes, 100 * 2 * B, 'a was evicted to fit b');
  assert.equal(
    (await generate(runner, a, { maxTokens: 4, blockLength: B, prefixCache: cache })).stats
      .cachedPromptTokens,
    0,
  );
  const tooBig = new PrefixCache({ maxBytes: 100 * B });
  await generate(runner, a, { maxTokens: 4, blockLength: B, prefixCache: tooBig });
  assert.equal(tooBig.size, 0, 'a state over the whole budget is not kept');
});

test('the first step event reports the cached prompt positions (a consumer that stops early still knows them)', async () => {
  const B = 4;
  const toy = new ToyRunner({ seed: 6, blockLength: B });
  const runner = shareable(toy);
  const ids = prompt(new Xoshiro128(12), 2 * B + 1, toy.info.vocabSize);
  const cache = new PrefixCache();
  const steps = async () => {
    const seen: (number | undefined)[] = [];
    for await (const ev of decode(runner, ids, {
      maxTokens: 8,
      blockLength: B,
      prefixCache: cache,
    }))
      if (ev.type === 'step') seen.push(ev.cachedPromptTokens);
    return seen;
  };
  const cold = await steps();
  const warm = await steps();
  assert.equal(cold[0], 0);
  assert.equal(warm[0], 2 * B);
  assert.ok(warm.length > 1 && warm.slice(1).every((x) => x === undefined));
});

test('a conversation growing turn by turn keeps one entry: a longer prompt takes over its prefixes, the old entry goes', async () => {
  const B = 4;
  const toy = new ToyRunner({ seed: 9, blockLength: B });
  const runner = shareable(toy);
  const rng = new Xoshiro128(21);
  const cache = new PrefixCache({ maxPositions: 64 * B });
  let conversation = prompt(rng, 2 * B, toy.info.vocabSize);
  let lastCached = 0;
  for (let turn = 0; turn < 12; turn++) {
    const r = await generate(runner, conversation, {
      maxTokens: 4,
      blockLength: B,
      prefixCache: cache,
    });
    if (turn > 0)
      assert.equal(
        r.stats.cachedPromptTokens,
        lastCached,
        `turn ${turn} reuses the previous turn's prompt`,
      );
    assert.equal(cache.entryCount, 1, `turn ${turn}: one live entry`);
    assert.equal(
      cache.size,
      Math.floor(conversation.length / B) * B,
      'accounting follows the live entry only',
    );
    lastCached = Math.floor(conversation.length / B) * B;
    conversation = [...conversation, ...prompt(rng, 2 * B, toy.info.vocabSize)];
  }
  // Two unrelated prompts: two entries; evicting one leaves the other's accounting exact.
  const small = new PrefixCache({ maxPositions: 3 * B });
  await generate(runner, prompt(rng, 2 * B, toy.info.vocabSize), {
    maxTokens: 4,
    blockLength: B,
    prefixCache: small,
  });
  await generate(runner, prompt(rng, 2 * B, toy.info.vocabSize), {
    maxTokens: 4,
    blockLength: B,
    prefixCache: small,
  });
  assert.equal(small.entryCount, 1);
  assert.equal(small.size, 2 * B);
});
