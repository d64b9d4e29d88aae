import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate, unlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeSafetensors,
  readSafetensors,
  decodeToFloat32,
  tensorBytes,
} from '../../../src/model/safetensors.ts';
import { makeTinyModel } from './make-tiny-model.ts';
import { CheckpointError, expectShape, openCheckpoint } from './checkpoint.ts';

let root: string;
let single: string;
let sharded: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'unmask-ckpt-'));
  single = (await makeTinyModel({ out: join(root, 'single'), seed: 3 })).dir;
  sharded = (await makeTinyModel({ out: join(root, 'sharded'), seed: 3, shards: 3, dtype: 'bf16' }))
    .dir;
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh directory holding a copy of the single-file checkpoint's config (and optionally its weights). */
async function scratch(name: string, withWeights = false): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), await readFile(join(single, 'config.json')));
  if (withWeights)
    await writeFile(
      join(dir, 'model.safetensors'),
      await readFile(join(single, 'model.safetensors')),
    );
  return dir;
}

/** Assert that opening (or `action`) fails with a one-line CheckpointError matching every pattern. */
async function rejectsWith(action: () => Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(action, (e: Error) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${e}`);
    assert.ok(!e.message.includes('\n'), `message is not one line: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

describe('reading', () => {
  test('single file: names, info, read and totalBytes match the file', async () => {
    const ckpt = await openCheckpoint(single);
    try {
      assert.equal(ckpt.config.model_type, 'llada2_moe');
      assert.equal(ckpt.rawConfig.architectures instanceof Array, true);
      const file = new Uint8Array(await readFile(join(single, 'model.safetensors')));
      const parsed = readSafetensors(file);
      assert.deepEqual(ckpt.names(), [...parsed.tensors.keys()].sort());
      const name = 'model.layers.1.mlp.gate.expert_bias';
      assert.ok(ckpt.has(name));
      assert.deepEqual(ckpt.info(name), {
        dtype: 'F32',
        shape: [8],
        file: 'model.safetensors',
        bytes: 32,
      });
      const got = await ckpt.read('model.word_embeddings.weight');
      const want = decodeToFloat32(
        'F32',
        tensorBytes(file, parsed.dataStart, parsed.tensors.get('model.word_embeddings.weight')!),
      );
      assert.deepEqual(got.shape, [512, 64]);
      assert.deepEqual(got.data, want);
      assert.equal(ckpt.totalBytes(), file.length - parsed.dataStart);
      expectShape(ckpt, 'model.norm.weight', [64]);
      assert.throws(
        () => expectShape(ckpt, 'model.norm.weight', [32]),
        /model\.safetensors: tensor model\.norm\.weight has shape \[64\], expected \[32\]/,
      );
    } finally {
      await ckpt.close();
    }
  });

  test('sharded bf16: same names as the single file, values equal after bf16 rounding', async () => {
    const [a, b] = [await openCheckpoint(single), await openCheckpoint(sharded)];
    try {
      assert.deepEqual(b.names(), a.names());
      const files = new Set(b.names().map((n) => b.info(n).file));
      assert.deepEqual(
        [...files].sort(),
        [1, 2, 3].map((i) => `model-0000${i}-of-00003.safetensors`),
      );
      for (const name of ['lm_head.weight', 'model.layers.0.attention.query_key_value.weight']) {
        const [x, y] = [await a.read(name), await b.read(name)];
        assert.equal(b.info(name).dtype, 'BF16');
        for (let i = 0; i < x.data.length; i++)
          assert.ok(Math.abs(x.data[i] - y.data[i]) <= Math.abs(x.data[i]) * 2 ** -8);
      }
      assert.equal(b.totalBytes() * 2, a.totalBytes());
      const index = JSON.parse(
        await readFile(join(sharded, 'model.safetensors.index.json'), 'utf8'),
      );
      assert.equal(index.metadata.total_size, b.totalBytes());
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('unknown tensor and unsupported dtype fail on read, naming the tensor', async () => {
    const dir = await scratch('int8');
    const header = JSON.stringify({ q: { dtype: 'I8', shape: [4], data_offsets: [0, 4] } }).padEnd(
      40,
      ' ',
    );
    const bytes = new Uint8Array(8 + header.length + 4);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(new TextEncoder().encode(header), 8);
    await writeFile(join(dir, 'model.safetensors'), bytes);
    const ckpt = await openCheckpoint(dir);
    try {
      await rejectsWith(
        () => ckpt.read('q'),
        /model\.safetensors/,
        /tensor q has unsupported dtype I8/,
      );
      await rejectsWith(() => ckpt.read('nope'), /unknown tensor nope/);
      assert.throws(() => ckpt.info('nope'), /unknown tensor nope/);
    } finally {
      await ckpt.close();
    }
  });
});

describe('errors at open', () => {
  test('missing config.json', async () => {
    const dir = join(root, 'empty');
    await mkdir(dir, { recursive: true });
    await rejectsWith(() => openCheckpoint(dir), /empty\/config\.json: missing checkpoint config/);
  });

  test('invalid config JSON', async () => {
    const dir = await scratch('badjson');
    await writeFile(join(dir, 'config.json'), '{"model_type": ');
    await rejectsWith(() => openCheckpoint(dir), /badjson\/config\.json: invalid JSON/);
  });

  test('unknown model_type', async () => {
    const dir = await scratch('llama');
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama' }));
    await rejectsWith(
      () => openCheckpoint(dir),
      /llama\/config\.json: unsupported model_type "llama"/,
    );
  });

  test('invalid config value', async () => {
    const dir = await scratch('badcfg');
    const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, hidden_size: -1 }));
    await rejectsWith(() => openCheckpoint(dir), /badcfg\/config\.json: hidden_size/);
  });

  test('no safetensors file', async () => {
    const dir = await scratch('noweights');
    await rejectsWith(
      () => openCheckpoint(dir),
      /noweights: no model\.safetensors or model\.safetensors\.index\.json/,
    );
  });

  test('truncated file', async () => {
    const dir = await scratch('truncated', true);
    await truncate(join(dir, 'model.safetensors'), 600_000);
    await rejectsWith(
      () => openCheckpoint(dir),
      /truncated\/model\.safetensors: truncated: tensor model\.\S+ ends at byte \d+ but the file has 600000 bytes/,
    );
    await truncate(join(dir, 'model.safetensors'), 100);
    await rejectsWith(
      () => openCheckpoint(dir),
      /model\.safetensors: truncated: header of \d+ bytes runs past the end of the 100-byte file/,
    );
    await truncate(join(dir, 'model.safetensors'), 3);
    await rejectsWith(() => openCheckpoint(dir), /model\.safetensors: file is 3 bytes/);
  });

  test('corrupt header names the tensor', async () => {
    const dir = await scratch('corrupt');
    const file = encodeSafetensors([
      { name: 'w', dtype: 'F32', shape: [2], data: new Float32Array(2) },
    ]);
    const text = new TextDecoder().decode(file).replace('[0,8]', '[0,9]');
    await writeFile(join(dir, 'model.safetensors'), text);
    await rejectsWith(
      () => openCheckpoint(dir),
      /corrupt\/model\.safetensors: tensor "w": data_offsets span 9 bytes/,
    );
  });

  describe('bad index', () => {
    async function shardedCopy(name: string): Promise<string> {
      const dir = await scratch(name);
      for (const f of [
        'model.safetensors.index.json',
        ...[1, 2, 3].map((i) => `model-0000${i}-of-00003.safetensors`),
      ]) {
        await writeFile(join(dir, f), await readFile(join(sharded, f)));
      }
      return dir;
    }

    test('malformed JSON', async () => {
      const dir = await shardedCopy('idx-json');
      await writeFile(join(dir, 'model.safetensors.index.json'), '{"weight_map": {');
      await rejectsWith(
        () => openCheckpoint(dir),
        /idx-json\/model\.safetensors\.index\.json: invalid JSON/,
      );
    });

    test('weight_map missing', async () => {
      const dir = await shardedCopy('idx-nomap');
      await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {} }));
      await rejectsWith(
        () => openCheckpoint(dir),
        /idx-nomap\/model\.safetensors\.index\.json: weight_map is missing/,
      );
    });

    test('shard file missing', async () => {
      const dir = await shardedCopy('idx-noshard');
      await unlink(join(dir, 'model-00002-of-00003.safetensors'));
      await rejectsWith(
        () => openCheckpoint(dir),
        /idx-noshard\/model-00002-of-00003\.safetensors: shard listed in model\.safetensors\.index\.json does not exist/,
      );
    });

    test('tensor mapped to a shard that lacks it', async () => {
      const dir = await shardedCopy('idx-wrong');
      const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8'));
      index.weight_map['model.word_embeddings.weight'] = 'model-00001-of-00003.safetensors';
      await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
      await rejectsWith(
        () => openCheckpoint(dir),
        /model-00001-of-00003\.safetensors: tensor model\.word_embeddings\.weight is listed in model\.safetensors\.index\.json but missing/,
      );
    });
  });
});
