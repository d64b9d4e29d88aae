import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelDims } from '../../src/model/config.ts';
import { encodeSafetensors } from '../../src/model/safetensors.ts';
import { openCheckpoint } from '../../backends/node/export/checkpoint.ts';
import { makeTinyModel } from '../../backends/node/export/make-tiny-model.ts';
import type { MakeTinyModelOptions } from '../../backends/node/export/make-tiny-model.ts';
import {
  applyRope,
  blockCausal,
  loadReferenceModel,
  referenceForward,
  rmsNorm,
  routeToken,
  softmax,
  topKIndices,
} from './reference-forward.ts';
import type { ReferenceModel } from './reference-forward.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'unmask-oracle-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function tinyReference(
  name: string,
  options: Omit<MakeTinyModelOptions, 'out'> = {},
): Promise<ReferenceModel> {
  const { dir } = await makeTinyModel({ out: join(root, name), ...options });
  const ckpt = await openCheckpoint(dir);
  try {
    return await loadReferenceModel(ckpt);
  } finally {
    await ckpt.close();
  }
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
/** Deterministic pseudo-random token ids below the special tokens. */
const someIds = (n: number, salt = 0) =>
  range(n).map((i) => ((i + 1) * 7919 + salt * 104729) % 500);
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const allVisible = () => true;

describe('building blocks', () => {
  test('rmsNorm: x / √(mean x² + eps) · w', () => {
    const y = rmsNorm([3, 4], [1, 2], 0);
    assert.ok(Math.abs(y[0] - 3 / Math.sqrt(12.5)) < 1e-15);
    assert.ok(Math.abs(y[1] - 8 / Math.sqrt(12.5)) < 1e-15);
    assert.ok(Math.abs(rmsNorm([0, 0], [1, 1], 1e-6)[0]) === 0);
  });

  test('partial NeoX RoPE rotates (i, i + rotary/2) pairs and leaves the tail alone', () => {
    const x = Float64Array.from([1, 2, 3, 4, 5, 6]);
    applyRope(x, 3, 4, 10000);
    // Pair (0, 2) turns by 3·10000^0 = 3 rad; pair (1, 3) by 3·10000^(-1/2) = 0.03 rad.
    const rot = (a: number, b: number, t: number) => [
      a * Math.cos(t) - b * Math.sin(t),
      b * Math.cos(t) + a * Math.sin(t),
    ];
    const [x0, x2] = rot(1, 3, 3);
    const [x1, x3] = rot(2, 4, 0.03);
    assert.ok(maxAbsDiff(x, [x0, x1, x2, x3, 5, 6]) < 1e-14);
    const same = Float64Array.from([1, 2, 3, 4]);
    applyRope(same, 0, 4, 10000);
    assert.deepEqual([...same], [1, 2, 3, 4]);
  });

  test('RoPE scores depend only on the relative position', () => {
    const q = () => Float64Array.from([0.3, -1.2, 0.7, 2.0, 0.1, -0.4]);
    const k = () => Float64Array.from([1.1, 0.5, -0.9, 0.2, 0.8, 0.6]);
    const score = (m: number, n: number) => {
      const [a, b] = [q(), k()];
      applyRope(a, m, 4, 500);
      applyRope(b, n, 4, 500);
      return a.reduce((s, v, i) => s + v * b[i], 0);
    };
    assert.ok(Math.abs(score(10, 3) - score(107, 100)) < 1e-12);
    assert.ok(Math.abs(score(10, 3) - score(3, 10)) > 1e-3);
  });

  test('topKIndices breaks ties towards the lower index', () => {
    assert.deepEqual(topKIndices([1, 3, 3, 2, 3], 3), [1, 2, 4]);
    assert.deepEqual(
      topKIndices([5, 1, 4, 1], 2, (i) => i !== 0),
      [2, 1],
    );
  });

  describe('routeToken', () => {
    const logit = (p: number) => Math.log(p / (1 - p));
    // Sigmoid scores by group (2 experts each): g0 [0.9, 0.01] (sum 0.91), g1 [0.8, 0.7], g2 [0.85, 0.1], g3 [0.2, 0.1].
    const scores = [0.9, 0.01, 0.8, 0.7, 0.85, 0.1, 0.2, 0.1];
    const logits = scores.map(logit);
    const options = { topK: 2, nGroup: 4, topkGroup: 2, routedScalingFactor: 2.5 };
    const close = (a: number[], b: number[]) => assert.ok(maxAbsDiff(a, b) < 1e-12, `${a} vs ${b}`);

    test('group limit: group sums of top-2 keep g1 (1.5) and g2 (0.95), so expert 0 (best overall) is out', () => {
      const r = routeToken(logits, null, options);
      assert.deepEqual(r.experts, [4, 2]);
      close(r.weights, [(0.85 / 1.65) * 2.5, (0.8 / 1.65) * 2.5]);
      assert.deepEqual(topKIndices(scores, 2), [0, 4]);
    });

    test('expert_bias steers selection but the weights use the unbiased scores', () => {
      const bias = [0, 0, 0, 0.2, 0, 0, 0, 0];
      const r = routeToken(logits, bias, options);
      assert.deepEqual(r.experts, [3, 4]);
      close(r.weights, [(0.7 / 1.55) * 2.5, (0.85 / 1.55) * 2.5]);
    });

    test('top-1 is not renormalised; the scaling factor still applies', () => {
      const r = routeToken(logits, null, { ...options, topK: 1 });
      assert.deepEqual(r.experts, [4]);
      close(r.weights, [0.85 * 2.5]);
    });

    test('one group degenerates to plain top-k', () => {
      assert.deepEqual(
        routeToken(logits, null, { ...options, nGroup: 1, topkGroup: 1 }).experts,
        [0, 4],
      );
    });
  });
});

describe('hand-checked one-layer model', () => {
  // hidden 2, one head of dim 2, q = k = 0 (uniform attention), V = identity, dense = identity, MLP = 0,
  // lm_head rows [1,0], [0,1], [1,1]. Token a embeds to [3, 4], token b to [0, 5].
  let model: ReferenceModel;
  before(async () => {
    const dir = join(root, 'hand');
    await mkdir(dir);
    const config = {
      model_type: 'llada2_moe',
      hidden_size: 2,
      num_hidden_layers: 1,
      num_attention_heads: 1,
      num_key_value_heads: 1,
      head_dim: 2,
      intermediate_size: 1,
      moe_intermediate_size: 1,
      num_experts: 2,
      num_experts_per_tok: 1,
      first_k_dense_replace: 1,
      use_qk_norm: false,
      rope_theta: 10000,
      partial_rotary_factor: 1,
      rms_norm_eps: 1e-6,
      vocab_size: 3,
      max_position_embeddings: 64,
    };
    const t = (name: string, shape: number[], data: number[]) => ({
      name,
      dtype: 'F32' as const,
      shape,
      data: Float32Array.from(data),
    });
    const p = 'model.layers.0';
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    await writeFile(
      join(dir, 'model.safetensors'),
      encodeSafetensors([
        t('model.word_embeddings.weight', [3, 2], [3, 4, 0, 5, 1, 1]),
        t(`${p}.input_layernorm.weight`, [2], [1, 1]),
        t(`${p}.post_attention_layernorm.weight`, [2], [1, 1]),
        t(`${p}.attention.query_key_value.weight`, [6, 2], [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1]),
        t(`${p}.attention.dense.weight`, [2, 2], [1, 0, 0, 1]),
        t(`${p}.mlp.gate_proj.weight`, [1, 2], [0, 0]),
        t(`${p}.mlp.up_proj.weight`, [1, 2], [0, 0]),
        t(`${p}.mlp.down_proj.weight`, [2, 1], [0, 0]),
        t('model.norm.weight', [2], [1, 1]),
        t('lm_head.weight', [3, 2], [1, 0, 0, 1, 1, 1]),
      ]),
    );
    const ckpt = await openCheckpoint(dir);
    model = await loadReferenceModel(ckpt);
    await ckpt.close();
  });

  const norm = (v: number[]) => {
    const r = Math.sqrt((v[0] ** 2 + v[1] ** 2) / 2 + 1e-6);
    return [v[0] / r, v[1] / r];
  };
  const head = (v: number[]) => {
    const [x, y] = norm(v);
    return [x, y, x + y];
  };

  test('one token: attention returns its own value, so the logits are lm_head · norm(embedding)', () => {
    const logits = referenceForward(model, { ids: [0], positions: [5], visible: allVisible });
    const h1 = [3 + norm([3, 4])[0], 4 + norm([3, 4])[1]];
    assert.ok(maxAbsDiff(logits, head(h1)) < 1e-12);
    assert.ok(Math.abs(logits[2] - 7 / Math.sqrt(12.5)) < 1e-6); // eps makes the closed form approximate
  });

  test('two tokens: uniform attention averages the values; block-causal hides the later block', () => {
    const [na, nb] = [norm([3, 4]), norm([0, 5])];
    const avg = [(na[0] + nb[0]) / 2, (na[1] + nb[1]) / 2];
    const both = referenceForward(model, { ids: [0, 1], positions: [0, 1], visible: allVisible });
    assert.ok(maxAbsDiff(both.subarray(0, 3), head([3 + avg[0], 4 + avg[1]])) < 1e-12);
    assert.ok(maxAbsDiff(both.subarray(3, 6), head([0 + avg[0], 5 + avg[1]])) < 1e-12);
    const causal = referenceForward(model, {
      ids: [0, 1],
      positions: [0, 1],
      visible: blockCausal([0, 1], 1),
    });
    assert.ok(maxAbsDiff(causal.subarray(0, 3), head([3 + na[0], 4 + na[1]])) < 1e-12);
    assert.ok(maxAbsDiff(causal.subarray(3, 6), both.subarray(3, 6)) < 1e-12);
  });

  test('a query that sees nothing is an error', () => {
    assert.throws(
      () => referenceForward(model, { ids: [0], positions: [0], visible: () => false }),
      /query 0 sees no key/,
    );
  });
});

describe('tiny random models', () => {
  let base: ReferenceModel;
  before(async () => {
    base = await tinyReference('base');
  });

  test('block-causal: appending later blocks leaves earlier blocks bit-identical', () => {
    const ids = someIds(80);
    const run = (n: number) =>
      referenceForward(base, {
        ids: ids.slice(0, n),
        positions: range(n),
        visible: blockCausal(range(n), 32),
      });
    const full = run(80);
    const two = run(64);
    const one = run(32);
    const V = base.dims.vocab;
    assert.deepEqual(full.subarray(0, 64 * V), two);
    assert.deepEqual(full.subarray(0, 32 * V), one);
    // ...while a change inside a block reaches every position of that block (bidirectional) and later ones.
    const edited = ids.slice(0, 64);
    edited[40] = (edited[40] + 1) % 500;
    const changed = referenceForward(base, {
      ids: edited,
      positions: range(64),
      visible: blockCausal(range(64), 32),
    });
    assert.deepEqual(changed.subarray(0, 32 * V), one);
    assert.ok(maxAbsDiff(changed.subarray(33 * V, 34 * V), two.subarray(33 * V, 34 * V)) > 1e-6);
  });

  test('RoPE makes the forward invariant to a common position shift (full visibility)', () => {
    const ids = someIds(20, 1);
    const a = referenceForward(base, { ids, positions: range(20), visible: allVisible });
    const b = referenceForward(base, { ids, positions: range(20, 300), visible: allVisible });
    assert.ok(maxAbsDiff(a, b) < 1e-8);
    const c = referenceForward(base, {
      ids,
      positions: range(20).map((p) => p * 2),
      visible: allVisible,
    });
    assert.ok(maxAbsDiff(a, c) > 1e-4, 'positions must matter');
  });

  test('GQA: ratios 1, 2 and 4 run; duplicating kv heads reproduces grouped attention exactly', async () => {
    for (const kvHeads of [4, 1]) {
      const m = await tinyReference(`kv${kvHeads}`, { kvHeads });
      const out = referenceForward(m, {
        ids: someIds(12),
        positions: range(12),
        visible: allVisible,
      });
      assert.equal(out.length, 12 * m.dims.vocab);
      assert.ok(out.every(Number.isFinite));
    }
    // base: 4 query heads over 2 kv heads (h → h/2). Copy kv head g to heads 2g and 2g+1 of a 4-kv-head model.
    const d = base.dims;
    const config = { ...base.config, num_key_value_heads: 4 };
    const weights = new Map(base.weights);
    for (let l = 0; l < d.layers; l++) {
      const name = `model.layers.${l}.attention.query_key_value.weight`;
      const old = base.weights.get(name)!;
      const rowLen = d.headDim * d.hidden;
      const widened = new Float64Array((d.heads + 2 * 4) * rowLen);
      widened.set(old.subarray(0, d.heads * rowLen));
      for (const [part, from] of [
        [0, d.heads],
        [1, d.heads + d.kvHeads],
      ] as const) {
        for (let j = 0; j < 4; j++) {
          const src = (from + Math.floor(j / 2)) * rowLen;
          widened.set(old.subarray(src, src + rowLen), (d.heads + part * 4 + j) * rowLen);
        }
      }
      weights.set(name, widened);
    }
    const mha: ReferenceModel = { config, dims: modelDims(config), weights };
    const input = {
      ids: someIds(40, 2),
      positions: range(40),
      visible: blockCausal(range(40), 16),
    };
    assert.ok(maxAbsDiff(referenceForward(mha, input), referenceForward(base, input)) < 1e-12);
  });

  test('partial and full rotary both run and differ only once positions differ', async () => {
    const full = await tinyReference('full-rotary', { rotaryFactor: 1 });
    assert.equal(full.dims.rotaryDim, 16);
    assert.equal(base.dims.rotaryDim, 8);
    const ids = someIds(10, 3);
    const at = (m: ReferenceModel, positions: number[]) =>
      referenceForward(m, { ids, positions, visible: allVisible });
    // Same seed → same weights; at position 0 RoPE is the identity for both.
    assert.ok(maxAbsDiff(at(full, new Array(10).fill(0)), at(base, new Array(10).fill(0))) < 1e-12);
    assert.ok(maxAbsDiff(at(full, range(10)), at(base, range(10))) > 1e-4);
  });

  test('dense-only model (first_k_dense_replace = layers) routes nothing', async () => {
    const dense = await tinyReference('dense-only', { denseLayers: 2 });
    let routed = 0;
    const out = referenceForward(dense, {
      ids: someIds(8),
      positions: range(8),
      visible: allVisible,
      onRoute: () => {
        routed++;
      },
    });
    assert.equal(routed, 0);
    assert.ok(out.every(Number.isFinite));
  });

  test('MoE whose experts all equal one MLP = routed_scaling_factor × that MLP (+ shared)', () => {
    const d = base.dims;
    const p = 'model.layers.1.mlp';
    const moeWeights = new Map(base.weights);
    const denseWeights = new Map(base.weights);
    for (const proj of ['gate_proj', 'up_proj', 'down_proj']) {
      const e0 = base.weights.get(`${p}.experts.0.${proj}.weight`)!;
      for (let e = 1; e < d.experts; e++) moeWeights.set(`${p}.experts.${e}.${proj}.weight`, e0);
      moeWeights.set(`${p}.shared_experts.${proj}.weight`, new Float64Array(e0.length)); // no shared contribution
      denseWeights.set(`${p}.${proj}.weight`, proj === 'down_proj' ? e0.map((v) => v * 2.5) : e0);
    }
    const denseConfig = { ...base.config, first_k_dense_replace: 2 };
    const moe: ReferenceModel = { ...base, weights: moeWeights };
    const dense: ReferenceModel = {
      config: denseConfig,
      dims: modelDims(denseConfig),
      weights: denseWeights,
    };
    const input = { ids: someIds(16, 4), positions: range(16), visible: allVisible };
    assert.ok(maxAbsDiff(referenceForward(moe, input), referenceForward(dense, input)) < 1e-9);
  });

  test('the default model is peaked and its routing depends on bias and group limit', (t) => {
    const V = base.dims.vocab;
    const mask = base.config.mask_token_id!;
    const maxProbs: number[] = [];
    let tokens = 0;
    let biasMatters = 0;
    let groupMatters = 0;
    const router = { topK: 2, nGroup: 4, topkGroup: 2, routedScalingFactor: 2.5 };
    for (const salt of [0, 1]) {
      // A canvas as the decoder sees it: a 20-token prompt, then masks up to three blocks of 32.
      const ids = [...someIds(20, salt), ...new Array(76).fill(mask)];
      const positions = range(96);
      const bias = base.weights.get('model.layers.1.mlp.gate.expert_bias')!;
      const logits = referenceForward(base, {
        ids,
        positions,
        visible: blockCausal(positions, 32),
        onRoute: ({ routerLogits, route }) => {
          tokens++;
          const chosen = [...route.experts].sort().join();
          if ([...routeToken(routerLogits, null, router).experts].sort().join() !== chosen)
            biasMatters++;
          const biased = Array.from(routerLogits, (x, i) => 1 / (1 + Math.exp(-x)) + bias[i]);
          if ([...topKIndices(biased, 2)].sort().join() !== chosen) groupMatters++;
        },
      });
      for (let i = 20; i < 96; i++)
        maxProbs.push(Math.max(...softmax(logits.subarray(i * V, (i + 1) * V))));
    }
    const share = (f: (p: number) => boolean) => maxProbs.filter(f).length / maxProbs.length;
    const [high, low] = [share((p) => p > 0.9), share((p) => p < 0.5)];
    t.diagnostic(
      `mask positions: ${maxProbs.length}, max prob > 0.9: ${high.toFixed(3)}, < 0.5: ${low.toFixed(3)}`,
    );
    t.diagnostic(
      `routing: ${tokens} tokens, bias changed the experts for ${biasMatters}, group limit for ${groupMatters}`,
    );
    assert.ok(high >= 0.1 && low >= 0.1, `max-prob shares > 0.9: ${high}, < 0.5: ${low}`);
    assert.ok(biasMatters >= tokens * 0.05 && groupMatters >= tokens * 0.05);
  });
});
