/**
 * The rehearsal's random checkpoint: the Hugging Face layout (shards + index), readable by the exporter's
 * checkpoint reader, every tensor of the config at its shape with values at its init scale, deterministic.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../export/checkpoint.ts';
import { PRESET_SPECIAL_IDS, presetTensors } from './presets.ts';
import { writeRandomCheckpoint } from './random-checkpoint.ts';
import { LLADA2_CI_CONFIG } from './presets.ts';

/** The CI preset at a width the test writes in a moment. */
const CONFIG = {
  ...LLADA2_CI_CONFIG,
  num_hidden_layers: 2,
  max_window_layers: 2,
  hidden_size: 64,
  head_dim: 16,
  rotary_dim: 8,
  vocab_size: 156900,
};

describe('writeRandomCheckpoint', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'unmask-randckpt-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('shards with an index, every tensor at its shape and init scale, the mask row of the head zero', async () => {
    const dir = join(root, 'a');
    const tensors = presetTensors(CONFIG);
    const r = await writeRandomCheckpoint({
      dir,
      config: CONFIG,
      tensors,
      specialIds: PRESET_SPECIAL_IDS,
      shardBytes: 8 * 2 ** 20,
      zeroHeadRows: [156895],
    });
    const shards = (await readdir(dir)).filter((n) => n.endsWith('.safetensors')).sort();
    assert.ok(shards.length >= 3, `${shards.length} shards`);
    assert.match(shards[0], /^model-00001-of-0000\d\.safetensors$/);
    const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8'));
    assert.equal(index.metadata.total_size, r.weightBytes);
    const ckpt = await openCheckpoint(dir);
    try {
      assert.equal(ckpt.config.num_experts, 32);
      assert.deepEqual(ckpt.names(), tensors.map((t) => t.name).sort());
      for (const t of tensors) {
        assert.deepEqual(ckpt.info(t.name).shape, t.shape, t.name);
        assert.equal(ckpt.info(t.name).dtype, 'BF16');
      }
      // A linear weight: mean ≈ 0, std ≈ 1/√fan_in (bf16-rounded uniform draws).
      const { data } = await ckpt.read('model.layers.1.mlp.experts.3.up_proj.weight');
      const mean = data.reduce((s, x) => s + x, 0) / data.length;
      const std = Math.sqrt(data.reduce((s, x) => s + (x - mean) ** 2, 0) / data.length);
      assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
      assert.ok(Math.abs(std - 1 / 8) < 0.01, `std ${std}`);
      const head = await ckpt.readRows('lm_head.weight', 156895, 156897);
      assert.ok(
        head.data.subarray(0, 64).every((x) => x === 0),
        'mask row is zero',
      );
      assert.ok(
        head.data.subarray(64).some((x) => x !== 0),
        'the next row is not',
      );
    } finally {
      await ckpt.close();
    }
    const tokenizer = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
    assert.equal(tokenizer.model.vocab['<|mask|>'], 156895);
    assert.equal(tokenizer.model.vocab['<|endoftext|>'], 156892);
  });

  test('the same seed writes the same bytes; another seed does not', async () => {
    const write = (name: string, seed: number) =>
      writeRandomCheckpoint({
        dir: join(root, name),
        config: { ...CONFIG, num_hidden_layers: 1 },
        tensors: presetTensors({ ...CONFIG, num_hidden_layers: 1 }),
        specialIds: PRESET_SPECIAL_IDS,
        seed,
      });
    await Promise.all([write('s1', 1), write('s1b', 1), write('s2', 2)]);
    const shard = (name: string) => readFile(join(root, name, 'model-00001-of-00001.safetensors'));
    const [a, b, c] = await Promise.all([shard('s1'), shard('s1b'), shard('s2')]);
    assert.ok(a.equals(b));
    assert.ok(!a.equals(c));
  });
});
