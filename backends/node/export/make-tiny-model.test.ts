import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from './checkpoint.ts';
import { makeTinyModel } from './make-tiny-model.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'unmask-tiny-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function filesOf(dir: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(dir)).sort();
  return new Map(
    await Promise.all(
      names.map(async (n) => [n, await readFile(join(dir, n))] as [string, Buffer]),
    ),
  );
}

describe('determinism', () => {
  test('same seed gives byte-identical files; another seed changes only the weights', async () => {
    const a = await makeTinyModel({ out: join(root, 'a'), seed: 7 });
    await makeTinyModel({ out: join(root, 'b'), seed: 7 });
    await makeTinyModel({ out: join(root, 'c'), seed: 8 });
    const [fa, fb, fc] = await Promise.all(['a', 'b', 'c'].map((d) => filesOf(join(root, d))));
    assert.deepEqual(
      [...fa.keys()],
      ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'],
    );
    for (const [name, bytes] of fa)
      assert.ok(bytes.equals(fb.get(name)!), `${name} differs between equal seeds`);
    assert.ok(!fa.get('model.safetensors')!.equals(fc.get('model.safetensors')!));
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
      assert.ok(fa.get(name)!.equals(fc.get(name)!));
    assert.deepEqual(
      a.files.map((f) => [f.name, f.bytes]).sort(),
      [...fa].map(([n, b]) => [n, b.length]).sort(),
    );
  });
});

describe('layout', () => {
  test('default config has the official keys and matching special-token ids', async () => {
    const { dir, rawConfig } = await makeTinyModel({ out: join(root, 'default') });
    const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(cfg, rawConfig);
    assert.deepEqual(cfg.architectures, ['LLaDA2MoeModelLM']);
    for (const key of [
      'hidden_size',
      'num_hidden_layers',
      'num_attention_heads',
      'num_key_value_heads',
      'head_dim',
      'intermediate_size',
      'moe_intermediate_size',
      'num_experts',
      'num_shared_experts',
      'num_experts_per_tok',
      'n_group',
      'topk_group',
      'routed_scaling_factor',
      'first_k_dense_replace',
      'norm_topk_prob',
      'use_qk_norm',
      'use_qkv_bias',
      'use_bias',
      'rope_theta',
      'partial_rotary_factor',
      'rms_norm_eps',
      'vocab_size',
      'max_position_embeddings',
      'tie_word_embeddings',
      'eos_token_id',
      'mask_token_id',
      'pad_token_id',
      'torch_dtype',
    ]) {
      assert.ok(key in cfg, `config.json lacks ${key}`);
    }
    assert.equal(cfg.eos_token_id, 507);
    assert.equal(cfg.mask_token_id, 508);
    const tok = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
    const added = Object.fromEntries(
      tok.added_tokens.map((t: { content: string; id: number }) => [t.content, t.id]),
    );
    assert.deepEqual(added, {
      '<|endoftext|>': 507,
      '<|mask|>': 508,
      '<role>': 509,
      '</role>': 510,
      '<|role_end|>': 511,
    });
  });

  test('tensor names and shapes follow the official layout', async () => {
    const { dir } = await makeTinyModel({ out: join(root, 'names') });
    const ckpt = await openCheckpoint(dir);
    try {
      const shape = (n: string) => ckpt.info(n).shape;
      assert.deepEqual(shape('model.word_embeddings.weight'), [512, 64]);
      assert.deepEqual(shape('model.layers.0.attention.query_key_value.weight'), [
        (4 + 2 * 2) * 16,
        64,
      ]);
      assert.deepEqual(shape('model.layers.0.attention.dense.weight'), [64, 64]);
      assert.deepEqual(shape('model.layers.0.attention.query_layernorm.weight'), [16]);
      assert.deepEqual(shape('model.layers.0.mlp.gate_proj.weight'), [128, 64]);
      assert.deepEqual(shape('model.layers.0.mlp.down_proj.weight'), [64, 128]);
      assert.deepEqual(shape('model.layers.1.mlp.gate.weight'), [8, 64]);
      assert.deepEqual(shape('model.layers.1.mlp.gate.expert_bias'), [8]);
      assert.deepEqual(shape('model.layers.1.mlp.experts.7.up_proj.weight'), [32, 64]);
      assert.deepEqual(shape('model.layers.1.mlp.shared_experts.down_proj.weight'), [64, 32]);
      assert.deepEqual(shape('lm_head.weight'), [512, 64]);
      assert.equal(ckpt.names().length, 1 + 2 * 6 + 3 + 2 + 8 * 3 + 3 + 2);
      assert.ok(!ckpt.has('model.layers.0.mlp.gate.weight'));
      const bias = (await ckpt.read('model.layers.1.mlp.gate.expert_bias')).data;
      assert.ok(
        bias.every((b) => b !== 0),
        'expert_bias must be nonzero so it affects selection',
      );
    } finally {
      await ckpt.close();
    }
  });

  test('flags: tied embeddings, no QK-norm, dense only, two shared experts, f16 shards', async () => {
    const { dir } = await makeTinyModel({
      out: join(root, 'flags'),
      tieEmbeddings: true,
      qkNorm: false,
      layers: 3,
      denseLayers: 1,
      sharedExperts: 2,
      dtype: 'f16',
      shards: 2,
      kvHeads: 1,
      rotaryFactor: 1,
    });
    const ckpt = await openCheckpoint(dir);
    try {
      assert.ok(!ckpt.has('lm_head.weight'));
      assert.ok(
        !ckpt
          .names()
          .some(
            (n) =>
              n.includes('.attention.query_layernorm') || n.includes('.attention.key_layernorm'),
          ),
      );
      assert.deepEqual(
        ckpt.info('model.layers.2.mlp.shared_experts.gate_proj.weight').shape,
        [64, 64],
      );
      assert.deepEqual(ckpt.info('model.layers.0.attention.query_key_value.weight').shape, [
        (4 + 2) * 16,
        64,
      ]);
      assert.equal(ckpt.info('model.norm.weight').dtype, 'F16');
      assert.equal(new Set(ckpt.names().map((n) => ckpt.info(n).file)).size, 2);
      assert.equal(ckpt.config.tie_word_embeddings, true);
      assert.equal(ckpt.config.partial_rotary_factor, 1);
    } finally {
      await ckpt.close();
    }
    const dense = await makeTinyModel({ out: join(root, 'dense'), denseLayers: 2 });
    const denseCkpt = await openCheckpoint(dense.dir);
    const names = denseCkpt.names();
    await denseCkpt.close();
    assert.ok(!names.some((n) => n.includes('experts') || n.includes('mlp.gate.')));
  });

  test('rewriting a directory with other --shards removes the stale weight files', async () => {
    const out = join(root, 'reshard');
    await makeTinyModel({ out, shards: 3 });
    await makeTinyModel({ out, shards: 1 });
    assert.deepEqual((await readdir(out)).sort(), [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
  });

  test('a vocabulary larger than the corpus supports leaves unused ids below the special tokens', async () => {
    const { dir, bpeVocab, rawConfig } = await makeTinyModel({
      out: join(root, 'bigvocab'),
      vocab: 6000,
      layers: 1,
      denseLayers: 1,
    });
    assert.ok(bpeVocab < 6000 - 5, `corpus produced ${bpeVocab} tokens`);
    assert.equal(rawConfig.eos_token_id, 5995);
    const tok = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
    assert.equal(tok.model.vocab['<|mask|>'], 5996);
    assert.equal(Object.keys(tok.model.vocab).length, bpeVocab + 5);
  });
});
