/**
 * The exported graph equals the float64 reference forward (≤ 1e-4 max-abs fp32 logits) on ORT-node and
 * ORT-web (wasm, in Node), across configs; block-causal invariance; the cached path equals the full forward.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openCheckpoint } from '../../backends/node/export/checkpoint.ts';
import { openModel, type Runtime } from '../../backends/node/open-model.ts';
import { blockCausalVisibility } from '../../src/decode/visibility.ts';
import { loadReferenceModel, referenceForward } from '../oracle/reference-forward.ts';
import { maxAbsDiff, randomIds, tinyFixture, type Fixture } from '../fixtures/export.ts';
import type { BlockRunner, KvState } from '../../src/decode/runner.ts';
import type { MoeImplementation } from '../../src/export/moe.ts';

const TOL = 1e-4;
const CONFIGS: { name: string; model: Record<string, unknown> }[] = [
  { name: 'default MoE (groups, GQA 2, partial rotary)', model: { seed: 1 } },
  {
    name: 'dense only, GQA 1, full rotary',
    model: { seed: 2, layers: 2, denseLayers: 2, kvHeads: 4, rotaryFactor: 1 },
  },
  {
    name: 'MoE all layers, GQA 4, one group',
    model: {
      seed: 3,
      layers: 3,
      denseLayers: 0,
      heads: 8,
      kvHeads: 2,
      headDim: 8,
      groups: 1,
      topkGroup: 1,
      experts: 4,
      expertsPerTok: 1,
    },
  },
  {
    name: 'bf16 weights, sharded, tied, no qk-norm',
    model: {
      seed: 4,
      dtype: 'bf16',
      shards: 3,
      tieEmbeddings: true,
      qkNorm: false,
      experts: 16,
      expertsPerTok: 4,
      groups: 4,
      topkGroup: 2,
      sharedExperts: 2,
    },
  },
];

async function forwardFull(
  runner: BlockRunner,
  ids: number[],
  block: number,
): Promise<Float32Array> {
  const L = ids.length;
  const out = await runner.forward({
    batch: 1,
    seq: L,
    ids: Int32Array.from(ids),
    positions: Int32Array.from(ids, (_, i) => i),
    visibility: blockCausalVisibility(0, 0, L, block),
    past: null,
    wantLogits: true,
    wantPresent: false,
  });
  return out.logits!;
}

for (const cfg of CONFIGS) {
  describe(`export parity: ${cfg.name}`, () => {
    let fx: Fixture;
    before(async () => {
      fx = await tinyFixture(cfg.model);
    });
    after(() => fx.cleanup());

    for (const [runtime, moe] of [
      ['node', 'ort-moe'],
      ['wasm', 'ort-moe'],
      ['node', 'dense'],
      ['wasm', 'dense'],
    ] as [Runtime, MoeImplementation][]) {
      test(`${runtime}, ${moe} experts: logits match the float64 reference within ${TOL}`, async () => {
        const pkg = await fx.pkg(`fp32-${moe}`, { moe });
        const ckpt = await openCheckpoint(fx.checkpoint);
        const ref = await loadReferenceModel(ckpt);
        await ckpt.close();
        const { runner } = await openModel(pkg, { runtime });
        const block = 4;
        const ids = randomIds(11, ref.dims.vocab, 7);
        const want = referenceForward(ref, {
          ids,
          positions: ids.map((_, i) => i),
          visible: (i, j) => Math.floor(j / block) <= Math.floor(i / block),
        });
        const got = await forwardFull(runner, ids, block);
        const diff = maxAbsDiff(got, want);
        assert.ok(diff <= TOL, `max |Δlogits| ${diff}`);
      });
    }
  });
}

describe('block-causal graph semantics (node)', () => {
  let fx: Fixture;
  let runner: BlockRunner;
  before(async () => {
    fx = await tinyFixture({ seed: 5 });
    runner = (await openModel(await fx.pkg('fp32'))).runner;
  });
  after(() => fx.cleanup());

  test('logits of earlier blocks are unchanged when later blocks are appended', async () => {
    const B = 4;
    const ids = randomIds(16, runner.info.vocabSize, 11);
    const short = await forwardFull(runner, ids.slice(0, 8), B);
    const long = await forwardFull(runner, ids, B);
    const V = runner.info.vocabSize;
    assert.ok(maxAbsDiff(short, long.subarray(0, 8 * V)) <= 1e-5);
    // …while the last block of `short` does change when its own block gets new tokens.
    const changed = await forwardFull(runner, [...ids.slice(0, 7), (ids[7] + 1) % V], B);
    assert.ok(maxAbsDiff(changed.subarray(4 * V, 7 * V), short.subarray(4 * V, 7 * V)) > 1e-3);
  });

  test('cached path: prefill blocks, then a block against past K/V, equals the full forward', async () => {
    const B = 4;
    const V = runner.info.vocabSize;
    const ids = randomIds(12, V, 13);
    const full = await forwardFull(runner, ids, B);
    // Prefill the first 8 tokens (two complete blocks) with block-causal visibility.
    const pre = await runner.forward({
      batch: 1,
      seq: 8,
      ids: Int32Array.from(ids.slice(0, 8)),
      positions: Int32Array.from({ length: 8 }, (_, i) => i),
      visibility: blockCausalVisibility(0, 0, 8, B),
      past: null,
      wantLogits: true,
      wantPresent: true,
    });
    const past: KvState = pre.present!;
    assert.equal(past.length, 8);
    // The last block sees everything in the cache and itself.
    const step = await runner.forward({
      batch: 1,
      seq: 4,
      ids: Int32Array.from(ids.slice(8)),
      positions: Int32Array.from({ length: 4 }, (_, i) => 8 + i),
      visibility: new Uint8Array(4 * 12).fill(1),
      past,
      wantLogits: true,
      wantPresent: true,
    });
    assert.ok(maxAbsDiff(step.logits!, full.subarray(8 * V)) <= 1e-5);
    assert.equal(step.present!.length, 12);
    // Truncating the present back to the prefix and re-running gives the same logits.
    const again = await runner.forward({
      batch: 1,
      seq: 4,
      ids: Int32Array.from(ids.slice(8)),
      positions: Int32Array.from({ length: 4 }, (_, i) => 8 + i),
      visibility: new Uint8Array(4 * 12).fill(1),
      past: runner.truncate(step.present!, 8),
      wantLogits: false,
      wantPresent: false,
    });
    assert.deepEqual(Array.from(again.topk.ids), Array.from(step.topk.ids));
  });

  test('top-k head: ids are the argmax order and probs are the full-vocab softmax', async () => {
    const ids = randomIds(6, runner.info.vocabSize, 17);
    const out = await runner.forward({
      batch: 1,
      seq: 6,
      ids: Int32Array.from(ids),
      positions: Int32Array.from(ids, (_, i) => i),
      visibility: blockCausalVisibility(0, 0, 6, 32),
      past: null,
      wantLogits: true,
      wantPresent: false,
    });
    const V = runner.info.vocabSize;
    const k = out.topk.k;
    for (let i = 0; i < 6; i++) {
      const row = Array.from(out.logits!.subarray(i * V, (i + 1) * V));
      const order = row
        .map((v, id) => ({ v, id }))
        .sort((a, b) => b.v - a.v || a.id - b.id)
        .slice(0, k);
      assert.deepEqual(
        Array.from(out.topk.ids.subarray(i * k, (i + 1) * k)),
        order.map((o) => o.id),
      );
      const max = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
      assert.ok(Math.abs(out.topk.probs[i * k] - Math.exp(row[order[0].id] - max) / z) < 1e-6);
    }
  });
});
