import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockCausalVisibility } from '../src/decode/visibility.ts';
import { exportPackage } from '../backends/node/export/export-package.ts';
import { openCheckpoint } from '../backends/node/export/checkpoint.ts';
import { openModel } from '../backends/node/open-model.ts';
import { Rng } from '../src/export/tiny/rng.ts';
import {
  demoConfigFromHf,
  fromHfCheckpoint,
  writeHfCheckpoint,
  type ExpertBias,
} from './hf-checkpoint.ts';
import {
  forwardConsts,
  forwardLogits,
  initParamArrays,
  paramsFromArrays,
  type DemoModelConfig,
  type Params,
  type RouterState,
} from './model.ts';
import { moeLayers } from './shapes.ts';
import { buildBatch } from './objective.ts';
import { diffusionLoss } from './train-step.ts';
import { initTf, tf } from './tf.ts';
import { TOKEN_IDS, VOCAB_SIZE } from './vocab.ts';
import { loadReferenceModel, referenceForward } from '../test/oracle/reference-forward.ts';

const DENSE: DemoModelConfig = {
  layers: 2,
  hidden: 32,
  heads: 4,
  kvHeads: 2,
  headDim: 8,
  rotaryDim: 4,
  ropeTheta: 10000,
  intermediate: 48,
  vocab: VOCAB_SIZE,
  eps: 1e-6,
  denseLayers: 2,
  experts: 4,
  expertsPerTok: 2,
  groups: 2,
  topkGroup: 1,
  moeIntermediate: 16,
  sharedExperts: 1,
  routedScaling: 2.5,
};
/** Layer 0 dense, layers 1–2 MoE: 8 experts in 4 groups, top-2 within the best 2 groups, a shared expert. */
const MOE: DemoModelConfig = {
  ...DENSE,
  layers: 3,
  denseLayers: 1,
  experts: 8,
  expertsPerTok: 2,
  groups: 4,
  topkGroup: 2,
};
const CONFIG = MOE;
const B = 8;

/** Seeded weights large enough for peaked, position-dependent logits (the init's 0.02 gives near-uniform ones). */
function strongArrays(config: DemoModelConfig, seed: number): Map<string, Float32Array> {
  const arrays = initParamArrays(config, seed);
  const rng = new Rng(seed + 1);
  for (const [name, a] of arrays) {
    for (let i = 0; i < a.length; i++)
      a[i] = name.endsWith('norm')
        ? 0.6 + 0.8 * rng.uniform()
        : a[i] * (name === 'embed' ? 50 : 12);
  }
  return arrays;
}

const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** A non-zero expert bias, so selection differs from the plain scores' top-k. */
function seededBias(config: DemoModelConfig, seed: number): ExpertBias {
  const rng = new Rng(seed);
  return new Map(
    moeLayers(config).map((l) => [
      l,
      Float32Array.from({ length: config.experts }, () => 0.1 * rng.normal()),
    ]),
  );
}

let root: string;
let arrays: Map<string, Float32Array>;
let params: Params;
const bias = seededBias(CONFIG, 5);
const router: RouterState = { bias };
before(async () => {
  await initTf('wasm');
  root = await mkdtemp(join(tmpdir(), 'unmask-train-parity-'));
  arrays = strongArrays(CONFIG, 3);
  params = paramsFromArrays(CONFIG, arrays);
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const W = 24;
const ids = Array.from({ length: W }, (_, i) =>
  i < 17 ? (i * 37 + 5) % 260 : TOKEN_IDS['<|mask|>'],
);
const positions = Array.from({ length: W }, (_, i) => i);
const vis = blockCausalVisibility(0, 0, W, B);

describe('export parity', () => {
  for (const [label, config] of [
    ['dense', DENSE],
    ['MoE', MOE],
  ] as const) {
    test(`${label}: HF checkpoint round-trips; tfjs logits match the float64 oracle and every ORT export (≤ 1e-4)`, async () => {
      const dir = join(root, `ckpt-${label}`);
      const weights = strongArrays(config, 3);
      const expertBias = seededBias(config, 5);
      await writeHfCheckpoint(dir, config, weights, { maxPositions: 64, bias: expertBias });
      const ckpt = await openCheckpoint(dir);
      const state: RouterState = { bias: expertBias, loads: new Map() };
      for (const l of moeLayers(config)) state.loads!.set(l, new Float64Array(config.experts));
      try {
        const cfg = demoConfigFromHf(ckpt.config);
        assert.deepEqual(cfg, config);
        const back = await fromHfCheckpoint(ckpt, cfg);
        for (const [n, a] of weights) assert.deepEqual(back.params.get(n), a, n);
        assert.deepEqual(back.bias, expertBias);
        const ref = await loadReferenceModel(ckpt);
        const oracleLoads = new Map<number, number[]>();
        const oracle = referenceForward(ref, {
          ids,
          positions,
          visible: (i, j) => vis[i * W + j] === 1,
          onRoute: ({ layer, route }) => {
            const row = oracleLoads.get(layer) ?? new Array<number>(config.experts).fill(0);
            for (const e of route.experts) row[e]++;
            oracleLoads.set(layer, row);
          },
        });
        const tfParams = paramsFromArrays(config, weights);
        const mine = await forwardLogits(
          config,
          tfParams,
          {
            batch: 1,
            seq: W,
            ids: Int32Array.from(ids),
            positions: Int32Array.from(positions),
            visibility: vis,
          },
          state,
        );
        tf.dispose(Object.values(tfParams));
        assert.ok(maxAbs(oracle) > 3, `logits too flat to test (${maxAbs(oracle)})`);
        assert.ok(
          maxDiff(oracle, mine) <= 1e-4 * Math.max(1, maxAbs(oracle)),
          `tfjs vs oracle ${maxDiff(oracle, mine)}`,
        );
        // The same experts chosen for every token, and more than a few of them (the bias matters).
        for (const l of moeLayers(config)) {
          assert.deepEqual(
            Array.from(state.loads!.get(l)!),
            oracleLoads.get(l),
            `layer ${l} loads`,
          );
          assert.ok(
            oracleLoads.get(l)!.filter((n) => n > 0).length >= 4,
            `layer ${l} uses few experts`,
          );
        }

        const moeKinds =
          config.denseLayers < config.layers
            ? (['dense', 'ort-moe'] as const)
            : ([undefined] as const);
        for (const moe of moeKinds) {
          const pkg = join(root, `pkg-${label}-${moe ?? 'none'}`);
          await exportPackage({ checkpointDir: dir, outDir: pkg, blockLength: B, moe });
          const model = await openModel(pkg, { runtime: 'node', threads: 1 });
          assert.equal(model.manifest.decode.block_length, B);
          assert.equal(model.manifest.moe.implementation, moe ?? 'none');
          const out = await model.runner.forward({
            batch: 1,
            seq: W,
            ids: Int32Array.from(ids),
            positions: Int32Array.from(positions),
            visibility: vis,
            past: null,
            wantLogits: true,
            wantPresent: false,
          });
          assert.ok(
            maxDiff(out.logits!, mine) <= 1e-4 * Math.max(1, maxAbs(oracle)),
            `ORT (${moe ?? 'dense model'}) vs tfjs ${maxDiff(out.logits!, mine)}`,
          );
        }
      } finally {
        await ckpt.close();
      }
    });
  }
});

describe('objective', () => {
  const prompt = Array.from({ length: 17 }, (_, i) => (i * 11 + 3) % 260);
  const example = {
    example: { task: 'sort', prompt: '', answer: '' },
    stage: 0,
    prompt,
    target: [64, 65, 66, 67, TOKEN_IDS['<|role_end|>'], TOKEN_IDS['<|endoftext|>']],
  };
  const opts = { blockLength: B, maskId: TOKEN_IDS['<|mask|>'], eosId: TOKEN_IDS['<|endoftext|>'] };

  test('each noisy block of [x_t ; x_0] sees exactly what a decode step of that block sees', async () => {
    const batch = buildBatch([example, example], opts, new Rng(9));
    assert.equal(batch.canvas, 24);
    assert.equal(batch.noisyStart, 16);
    assert.ok(batch.maskedCount > 0);
    const rows = batch.rowEnd! - batch.rowStart!;
    const train = await forwardLogits(CONFIG, params, batch, router);
    // Decode view of block 2: window [0, 24) = clean blocks 0, 1 + the noisy block, block-causal mask.
    for (let n = 0; n < 2; n++) {
      const canvas = [
        ...Array.from(batch.ids.subarray(n * batch.seq + rows, n * batch.seq + rows + 16)),
        ...Array.from(batch.ids.subarray(n * batch.seq, n * batch.seq + 8)),
      ];
      const dec = await forwardLogits(
        CONFIG,
        params,
        {
          batch: 1,
          seq: 24,
          ids: Int32Array.from(canvas),
          positions: Int32Array.from(positions),
          visibility: vis,
        },
        router,
      );
      const fromTrain = train.subarray(n * rows * VOCAB_SIZE, (n * rows + 8) * VOCAB_SIZE);
      assert.ok(
        maxDiff(fromTrain, dec.subarray(16 * VOCAB_SIZE)) < 1e-4,
        `sequence ${n}: ${maxDiff(fromTrain, dec.subarray(16 * VOCAB_SIZE))}`,
      );
    }
  });

  test('gradients match a finite-difference directional derivative of the loss', async () => {
    const batch = buildBatch([example, example, example], opts, new Rng(4));
    const consts = forwardConsts(CONFIG, batch);
    const targets = tf.reshape(
      tf.cast(tf.oneHot(tf.tensor1d(batch.targets, 'int32'), VOCAB_SIZE), 'float32'),
      [batch.batch, batch.noisyRows, VOCAB_SIZE],
    );
    const weights = tf.tensor(batch.weights, [batch.batch, batch.noisyRows]);
    const names = Object.keys(params);
    const lossAt = (p: Params) =>
      tf.tidy(
        () => diffusionLoss(CONFIG, p, batch, consts, targets, weights, router).dataSync()[0],
      );
    const grads = tf.grads((...ts: tf.Tensor[]) =>
      diffusionLoss(
        CONFIG,
        Object.fromEntries(names.map((n, i) => [n, ts[i]])),
        batch,
        consts,
        targets,
        weights,
        router,
      ),
    )(names.map((n) => params[n]));
    // Direction: the unit gradient plus a random unit vector, so both the gradient's size and its direction matter.
    const rng = new Rng(77);
    const noise = names.map((n) =>
      Float32Array.from({ length: params[n].size }, () => rng.normal()),
    );
    const gData = grads.map((g) => g.dataSync() as Float32Array);
    const norm = (xs: Float32Array[]) =>
      Math.sqrt(xs.reduce((s, x) => s + x.reduce((a, v) => a + v * v, 0), 0));
    const gNorm = norm(gData);
    const rNorm = norm(noise);
    const dirs = names.map((n, i) =>
      tf.tensor(
        gData[i].map((g, j) => g / gNorm + noise[i][j] / rNorm),
        params[n].shape,
      ),
    );
    const analytic = grads.reduce((s, g, i) => s + tf.sum(tf.mul(g, dirs[i])).dataSync()[0], 0);
    const eps = 1e-2;
    const shifted = (sign: number) =>
      Object.fromEntries(names.map((n, i) => [n, tf.add(params[n], tf.mul(dirs[i], sign * eps))]));
    const plus = shifted(1);
    const minus = shifted(-1);
    const numeric = (lossAt(plus) - lossAt(minus)) / (2 * eps);
    assert.ok(gNorm > 0.1, `gradient too small to test: ${gNorm}`);
    assert.ok(
      Math.abs(numeric - analytic) <= 2e-2 * Math.abs(analytic),
      `analytic ${analytic} vs numeric ${numeric}`,
    );
    tf.dispose([
      ...grads,
      ...dirs,
      ...Object.values(plus),
      ...Object.values(minus),
      targets,
      weights,
    ]);
    consts.dispose();
  });
});
