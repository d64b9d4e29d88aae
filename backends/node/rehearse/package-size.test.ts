/** The per-dtype package size estimate against real exports of one small checkpoint in every dtype. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { specialTokenIds } from '../../../src/export/tiny/options.ts';
import { exportPackage } from '../export/export-package.ts';
import { estimatePackageBytes } from './package-size.ts';
import { LLADA2_CI_CONFIG, presetTensors } from './presets.ts';
import { writeRandomCheckpoint } from './random-checkpoint.ts';
import { DTYPES } from './rehearse.ts';

const CONFIG = {
  ...LLADA2_CI_CONFIG,
  num_hidden_layers: 3,
  hidden_size: 128,
  head_dim: 32,
  rotary_dim: 16,
  intermediate_size: 256,
  moe_intermediate_size: 64,
  moe_shared_expert_intermediate_size: 64,
  num_experts: 16,
  vocab_size: 2048,
  max_position_embeddings: 1024,
  eos_token_id: 2043,
  mask_token_id: 2044,
};

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'unmask-pkgsize-'));
  await writeRandomCheckpoint({
    dir: join(root, 'ckpt'),
    config: CONFIG,
    tensors: presetTensors(CONFIG),
    specialIds: specialTokenIds(2048),
  });
});
after(() => rm(root, { recursive: true, force: true }));

test('estimatePackageBytes is within 3% of the exported package, for every dtype', async () => {
  for (const dtype of DTYPES) {
    const manifest = await exportPackage({
      checkpointDir: join(root, 'ckpt'),
      outDir: join(root, dtype),
      dtype,
      externalData: 'always',
    });
    const actual = manifest.files.reduce((s, f) => s + f.bytes, 0);
    const estimate = estimatePackageBytes(CONFIG, dtype);
    assert.ok(
      Math.abs(estimate - actual) / actual < 0.03,
      `${dtype}: estimated ${estimate}, exported ${actual}`,
    );
  }
});
