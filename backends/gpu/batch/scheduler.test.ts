import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decode,
  generate,
  type DecodeOptions,
  type DecodeResult,
} from '../../../src/decode/index.ts';
import type { BlockRunner } from '../../../src/decode/runner.ts';
import { openModel } from '../../node/open-model.ts';
import { randomIds, tinyFixture, type Fixture } from '../../../test/fixtures/export.ts';
import { BatchScheduler, type ForwardStats } from './scheduler.ts';

const CASES: { prompt: number; opts: DecodeOptions }[] = [
  { prompt: 5, opts: { maxTokens: 40, blockLength: 8, threshold: 0.9 } },
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
  { prompt: 40, opts: { maxTokens: 64, blockLength: 8, threshold: 0.9, mode: 'reference' } },
  { prompt: 70, opts: { maxTokens: 64, blockLength: 8, threshold: 0.7 } },
];

describe('BatchScheduler on the tiny model', () => {
  let fx: Fixture;
  let runner: BlockRunner;
  let geometry: { layers: number; kvHeads: number; headDim: number };
  let ids: number[][];
  let serial: DecodeResult[];

  before(async () => {
    fx = await tinyFixture({ seed: 9 });
    const m = await openModel(await fx.pkg('fp32'), { runtime: 'node' });
    runner = m.runner;
    geometry = {
      layers: m.manifest.graph.layers,
      kvHeads: m.manifest.graph.kv_heads,
      headDim: m.manifest.graph.head_dim,
    };
    ids = CASES.map((c, i) => randomIds(c.prompt, runner.info.vocabSize - 8, 100 + i));
    serial = [];
    for (let i = 0; i < CASES.length; i++)
      serial.push(await generate(runner, ids[i], CASES[i].opts));
  });
  after(() => fx?.cleanup());

  for (const padSeqRatio of [1, 2, 100]) {
    test(`concurrent sequences share forwards and keep their unbatched tokens (padSeqRatio ${padSeqRatio})`, async () => {
      const stats: ForwardStats[] = [];
      const scheduler = new BatchScheduler({
        runner,
        geometry,
        padSeqRatio,
        onForward: (s) => stats.push(s),
      });
      const got = await Promise.all(
        CASES.map((c, i) => generate(scheduler.runnerFor(), ids[i], c.opts)),
      );
      got.forEach((r, i) => {
        assert.deepEqual(r.tokens, serial[i].tokens, `case ${i}`);
        assert.equal(r.stats.forwards, serial[i].stats.forwards, `case ${i}`);
      });
      const sequences = stats.reduce((s, x) => s + x.sequences, 0);
      assert.equal(
        sequences,
        serial.reduce((s, r) => s + r.stats.forwards, 0),
      );
      assert.ok(
        sequences / stats.length > 1.5,
        `${sequences} sequences in ${stats.length} forwards`,
      );
      if (padSeqRatio === 1) assert.ok(stats.every((s) => s.paddedQueries === 0));
      else assert.ok(stats.some((s) => s.paddedQueries > 0));
    });
  }

  test('maxBatch caps the sequences of one forward', async () => {
    const stats: ForwardStats[] = [];
    const scheduler = new BatchScheduler({
      runner,
      geometry,
      maxBatch: 2,
      onForward: (s) => stats.push(s),
    });
    await Promise.all(
      CASES.slice(0, 4).map((c, i) => generate(scheduler.runnerFor(), ids[i], c.opts)),
    );
    assert.ok(stats.every((s) => s.sequences <= 2));
    assert.ok(stats.some((s) => s.sequences === 2));
  });

  test('an aborted sequence leaves before its next forward; the others go on', async () => {
    const scheduler = new BatchScheduler({ runner, geometry });
    const ac = new AbortController();
    let seen = 0;
    const aborted = (async (): Promise<DecodeResult | null> => {
      for await (const ev of decode(scheduler.runnerFor(ac.signal), ids[0], {
        ...CASES[0].opts,
        signal: ac.signal,
      })) {
        if (ev.type === 'step' && ++seen === 3) ac.abort();
        if (ev.type === 'done') return ev.result;
      }
      return null;
    })().catch(() => null);
    const other = generate(scheduler.runnerFor(), ids[1], CASES[1].opts);
    const r = await aborted;
    assert.ok(r === null || r.finishReason === 'aborted', `ended with ${JSON.stringify(r)}`);
    assert.equal(seen, 3);
    assert.deepEqual((await other).tokens, serial[1].tokens);
  });
});
