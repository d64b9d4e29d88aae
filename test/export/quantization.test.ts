/**
 * Every dtype/layout/kernel exports, loads in both runtimes, agrees across runtimes, stays near fp32, keeps each
 * sequence of a batch independent of the others, and says in its manifest how it is encoded.
 */
// Tolerances are loose for int4 and the int8 kernel: random tiny weights with peaked logits amplify quantization
// noise; each encoding is checked exactly against its own arithmetic in src/export/quantize.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { openModel } from '../../backends/node/open-model.ts';
import { readLocalManifest } from '../../backends/node/stores/disk-package.ts';
import { blockCausalVisibility } from '../../src/decode/visibility.ts';
import type { BlockRunner } from '../../src/decode/runner.ts';
import { maxAbsDiff, randomIds, tinyFixture, type Fixture } from '../fixtures/export.ts';
import type { ExportOptions } from '../../backends/node/export/export-package.ts';

const VARIANTS: { name: string; opts: Partial<ExportOptions>; tol: number; folds: boolean }[] = [
  { name: 'fp16', opts: { dtype: 'fp16' }, tol: 0.05, folds: false },
  { name: 'int8', opts: { dtype: 'int8', kernel: 'int8' }, tol: 25, folds: false },
  // kernel auto: hidden 64 is below the size where int8 kernels pay off, so weights are dequantized at load.
  { name: 'int8-auto', opts: { dtype: 'int8' }, tol: 1.5, folds: true },
  { name: 'int8-float', opts: { dtype: 'int8', kernel: 'float' }, tol: 1.5, folds: true },
  {
    name: 'int8-emb8-head-fp16',
    opts: { dtype: 'int8', kernel: 'int8', embeddings: 'int8', lmHead: 'fp16' },
    tol: 25,
    folds: false,
  },
  {
    name: 'int4-dq',
    opts: { dtype: 'int4', int4Layout: 'dq', kernel: 'int8' },
    tol: 40,
    folds: true,
  },
  {
    name: 'int4-dq-float-b16',
    opts: { dtype: 'int4', int4Layout: 'dq', kernel: 'float', blockSize: 16 },
    tol: 40,
    folds: true,
  },
  {
    name: 'int4-matmulnbits',
    opts: { dtype: 'int4', int4Layout: 'matmulnbits' },
    tol: 40,
    folds: false,
  },
];

/** Logits of one or more equally long sequences, batched. */
async function logits(runner: BlockRunner, ...seqs: number[][]): Promise<Float32Array> {
  const n = seqs[0].length;
  const vis = blockCausalVisibility(0, 0, n, 4);
  const out = await runner.forward({
    batch: seqs.length,
    seq: n,
    ids: Int32Array.from(seqs.flat()),
    positions: Int32Array.from(seqs.flatMap((s) => s.map((_, i) => i))),
    visibility: Uint8Array.from(seqs.flatMap(() => Array.from(vis))),
    past: null,
    wantLogits: true,
    wantPresent: false,
  });
  return out.logits!;
}

describe('quantized packages', () => {
  let fx: Fixture;
  let fp32: Float32Array;
  let ids: number[];
  before(async () => {
    fx = await tinyFixture({ seed: 21 });
    const { runner } = await openModel(await fx.pkg('fp32'));
    ids = randomIds(10, runner.info.vocabSize, 3);
    fp32 = await logits(runner, ids);
  });
  after(() => fx.cleanup());

  for (const v of VARIANTS) {
    test(`${v.name}: node = wasm, close to fp32, manifest describes it`, async () => {
      const dir = await fx.pkg(v.name, v.opts);
      const node = await logits((await openModel(dir, { runtime: 'node' })).runner, ids);
      const wasm = await logits((await openModel(dir, { runtime: 'wasm' })).runner, ids);
      assert.ok(maxAbsDiff(node, wasm) <= 1e-4, `node vs wasm ${maxAbsDiff(node, wasm)}`);
      const err = maxAbsDiff(node, fp32);
      assert.ok(err > 0 && err <= v.tol, `max |Δlogits| vs fp32 = ${err}`);
      // A sequence's logits do not depend on what else is in the batch (per-token activation scales).
      const runner = (await openModel(dir, { runtime: 'node' })).runner;
      const batched = await logits(runner, ids, randomIds(ids.length, runner.info.vocabSize, 9));
      assert.ok(maxAbsDiff(batched.subarray(0, node.length), node) <= 1e-5, 'batch independence');
      const m = await readLocalManifest(dir);
      const q = m.quantization;
      assert.equal(q.dtype, v.opts.dtype);
      if (v.opts.int4Layout) assert.equal(q.int4_layout, v.opts.int4Layout);
      if (v.opts.dtype === 'int8' || v.opts.dtype === 'int4')
        assert.equal(q.kernel, v.opts.kernel ?? 'float');
      assert.equal(q.embeddings, v.opts.embeddings ?? 'fp16');
      assert.equal(q.lm_head, v.opts.lmHead ?? v.opts.dtype);
      if (v.opts.blockSize) assert.equal(q.block_size, v.opts.blockSize);
      assert.equal(m.graph.session_config['session.disable_quant_qdq'] === '1', v.folds);
    });
  }

  test('manifest lists every file with its true size and sha256; smaller dtypes give smaller graphs', async () => {
    const sizes: Record<string, number> = {};
    for (const name of ['fp32', 'fp16', 'int4-dq']) {
      const dir = join(fx.root, name);
      const m = await readLocalManifest(dir);
      for (const f of m.files) {
        const bytes = await readFile(join(dir, f.path));
        assert.equal(bytes.length, f.bytes, f.path);
        assert.equal(createHash('sha256').update(bytes).digest('hex'), f.sha256, f.path);
      }
      sizes[name] = m.files.find((f) => f.role === 'graph')!.bytes;
    }
    assert.ok(sizes.fp16 < sizes.fp32 && sizes['int4-dq'] < sizes.fp16, JSON.stringify(sizes));
  });

  test('external data: weights in model.onnx.data load and give the same logits', async () => {
    const dir = await fx.pkg('fp32-external', { externalData: 'always' });
    const m = await readLocalManifest(dir);
    assert.deepEqual(m.graph.external_data, ['model.onnx.data']);
    assert.ok(m.files.some((f) => f.path === 'model.onnx.data' && f.role === 'weights'));
    for (const runtime of ['node', 'wasm'] as const) {
      const got = await logits((await openModel(dir, { runtime })).runner, ids);
      assert.ok(maxAbsDiff(got, fp32) <= 1e-4, runtime);
    }
  });

  test('external data: streamed quantized experts and int8 embeddings equal the inline package', async () => {
    for (const name of ['int4-dq', 'int8-emb8-head-fp16']) {
      const opts = VARIANTS.find((v) => v.name === name)!.opts;
      const inline = await logits((await openModel(join(fx.root, name))).runner, ids);
      const dir = await fx.pkg(`${name}-external`, { ...opts, externalData: 'always' });
      assert.deepEqual((await readLocalManifest(dir)).graph.external_data, ['model.onnx.data']);
      const external = await logits((await openModel(dir)).runner, ids);
      assert.deepEqual(external, inline, name);
    }
  });
});
