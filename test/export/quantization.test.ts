/** Every dtype/layout exports, loads in both runtimes, agrees across runtimes and stays near fp32. */
// Tolerances are loose for int4: random tiny weights with peaked logits amplify quantization noise;
// the per-layer encodings are checked tightly against their error bound in src/export/quantize.test.ts.
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

const VARIANTS: { name: string; opts: Partial<ExportOptions>; tol: number }[] = [
  { name: 'fp16', opts: { dtype: 'fp16' }, tol: 0.05 },
  { name: 'int8', opts: { dtype: 'int8' }, tol: 1.5 },
  { name: 'int4-dq', opts: { dtype: 'int4', int4Layout: 'dq' }, tol: 25 },
  { name: 'int4-matmulnbits', opts: { dtype: 'int4', int4Layout: 'matmulnbits' }, tol: 25 },
];

async function logits(runner: BlockRunner, ids: number[]): Promise<Float32Array> {
  const out = await runner.forward({
    batch: 1,
    seq: ids.length,
    ids: Int32Array.from(ids),
    positions: Int32Array.from(ids, (_, i) => i),
    visibility: blockCausalVisibility(0, 0, ids.length, 4),
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
      const m = await readLocalManifest(dir);
      assert.equal(m.quantization.dtype, v.opts.dtype);
      if (v.opts.int4Layout) assert.equal(m.quantization.int4_layout, v.opts.int4Layout);
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
});
