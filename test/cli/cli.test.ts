/**
 * The CLI contracts other tools rely on (forward, generate, export-onnx), run as real processes:
 * JSON shapes, exit codes, and one-line errors naming the tensor or file at fault.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  encodeSafetensors,
  readSafetensors,
  tensorBytes,
  decodeToFloat32,
  type EncodeTensor,
} from '../../src/model/safetensors.ts';
import { openModel } from '../../backends/node/open-model.ts';
import { blockCausalVisibility } from '../../src/decode/visibility.ts';
import { tinyFixture, type Fixture } from '../fixtures/export.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `scripts/${script}.ts`, ...args],
      { maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Rewrites a checkpoint's single safetensors file through `edit`. */
async function editWeights(
  dir: string,
  edit: (tensors: EncodeTensor[]) => EncodeTensor[],
): Promise<void> {
  const path = join(dir, 'model.safetensors');
  const bytes = new Uint8Array(await readFile(path));
  const parsed = readSafetensors(bytes);
  const tensors = [...parsed.tensors].map(([name, info]) => ({
    name,
    dtype: info.dtype as 'F32',
    shape: info.shape,
    data: decodeToFloat32(info.dtype, tensorBytes(bytes, parsed.dataStart, info)),
  }));
  await writeFile(path, encodeSafetensors(edit(tensors)));
}

describe('CLI contracts', () => {
  let fx: Fixture;
  let pkg: string;
  before(async () => {
    fx = await tinyFixture({ seed: 31 });
    pkg = await fx.pkg('pkg');
  });
  after(() => fx.cleanup());

  test('forward --json prints {"shape":[L,V],"logits":[[...]]} equal to the runner, on both runtimes', async () => {
    const [node, wasm] = await Promise.all([
      run('forward', ['--model', pkg, '--ids', '3,17,42,5', '--block-length', '2', '--json']),
      run('forward', [
        '--model',
        pkg,
        '--ids',
        '3,17,42,5',
        '--block-length',
        '2',
        '--runtime',
        'wasm',
        '--json',
      ]),
    ]);
    assert.equal(node.code, 0, node.stderr);
    const out = JSON.parse(node.stdout) as { shape: number[]; logits: number[][] };
    const { runner } = await openModel(pkg);
    const V = runner.info.vocabSize;
    assert.deepEqual(out.shape, [4, V]);
    assert.equal(out.logits.length, 4);
    const direct = await runner.forward({
      batch: 1,
      seq: 4,
      ids: Int32Array.from([3, 17, 42, 5]),
      positions: Int32Array.from([0, 1, 2, 3]),
      visibility: blockCausalVisibility(0, 0, 4, 2),
      past: null,
      wantLogits: true,
      wantPresent: false,
    });
    assert.deepEqual(out.logits.flat(), Array.from(direct.logits!));
    const web = JSON.parse(wasm.stdout) as { logits: number[][] };
    assert.ok(web.logits.flat().every((x, i) => Math.abs(x - direct.logits![i]) < 1e-4));
  });

  test('generate --json: contract keys; --no-cache gives the same tokens; bad options exit 1 with one line', async () => {
    const args = [
      '--model',
      pkg,
      '--prompt-ids',
      '3,17,42,9,11',
      '--gen-length',
      '24',
      '--block-length',
      '8',
      '--threshold',
      '0.6',
      '--json',
    ];
    const [cached, ref, bad, badId] = await Promise.all([
      run('generate', args),
      run('generate', [...args, '--no-cache']),
      run('generate', ['--model', pkg, '--prompt-ids', '3', '--top-p', '1.5']),
      run('generate', ['--model', pkg, '--prompt-ids', '3,999999']),
    ]);
    assert.equal(cached.code, 0, cached.stderr);
    const a = JSON.parse(cached.stdout);
    const b = JSON.parse(ref.stdout);
    for (const key of ['tokens', 'text', 'forwards', 'tpf', 'stats']) assert.ok(key in a, key);
    assert.equal(a.tokens.length, 24);
    assert.deepEqual(a.tokens, b.tokens);
    assert.equal(typeof a.text, 'string');
    assert.ok(a.forwards <= b.forwards + 1);
    for (const r of [bad, badId]) {
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr
          .trim()
          .split('\n')
          .filter((l) => !l.startsWith('npm warn')).length,
        1,
        r.stderr,
      );
    }
    assert.match(bad.stderr, /top_p|topP|top-p/);
    assert.match(badId.stderr, /999999/);
  });

  test('export-onnx: broken checkpoints exit non-zero with one line naming the tensor or file, leaving nothing behind', async () => {
    const variant = async (name: string, mutate: (dir: string) => Promise<void>) => {
      const dir = join(fx.root, `bad-${name}`);
      await cp(fx.checkpoint, dir, { recursive: true });
      await mutate(dir);
      return dir;
    };
    const cases: [string, (d: string) => Promise<void>, RegExp][] = [
      [
        'missing',
        (d) =>
          editWeights(d, (ts) =>
            ts.filter((t) => t.name !== 'model.layers.1.attention.dense.weight'),
          ),
        /model\.layers\.1\.attention\.dense\.weight/,
      ],
      [
        'shape',
        (d) =>
          editWeights(d, (ts) =>
            ts.map((t) =>
              t.name === 'model.norm.weight' ? { ...t, shape: [t.shape[0] / 2, 2] } : t,
            ),
          ),
        /model\.norm\.weight/,
      ],
      [
        'model-type',
        async (d) => {
          const cfg = JSON.parse(await readFile(join(d, 'config.json'), 'utf8'));
          await writeFile(join(d, 'config.json'), JSON.stringify({ ...cfg, model_type: 'llama' }));
        },
        /model_type.*llama/,
      ],
      [
        'dtype',
        async (d) => {
          // Relabel one F32 tensor as I32 (same byte size): a dtype the exporter cannot use as weights.
          const p = join(d, 'model.safetensors');
          const bytes = new Uint8Array(await readFile(p));
          const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
          const header = new TextDecoder()
            .decode(bytes.subarray(8, 8 + n))
            .replace(/("model\.norm\.weight":\{"dtype":")F32/, '$1I32');
          bytes.set(new TextEncoder().encode(header), 8);
          await writeFile(p, bytes);
        },
        /model\.norm\.weight.*I32|I32.*model\.norm\.weight/,
      ],
      [
        'truncated',
        async (d) => {
          await truncate(join(d, 'model.safetensors'), 4000);
        },
        /model\.safetensors/,
      ],
      [
        'no-tokenizer',
        async (d) => {
          await writeFile(join(d, 'tokenizer.json.bak'), '');
          await import('node:fs/promises').then((f) => f.rm(join(d, 'tokenizer.json')));
        },
        /tokenizer\.json/,
      ],
    ];
    const results = await Promise.all(
      cases.map(async ([name, mutate, pattern]) => {
        const dir = await variant(name, mutate);
        const out = join(fx.root, `out-${name}`);
        return { name, pattern, out, r: await run('export-onnx', [dir, out]) };
      }),
    );
    for (const { name, pattern, r } of results) {
      assert.notEqual(r.code, 0, `${name}: exit code`);
      const lines = r.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('npm warn') && !l.startsWith('export '));
      assert.equal(lines.length, 1, `${name}: ${r.stderr}`);
      assert.match(lines[0], pattern, name);
    }
    const left = (await readdir(fx.root)).filter(
      (f) => f.startsWith('out-') || f.includes('.tmp-'),
    );
    assert.deepEqual(left, [], 'no package or temp dir left behind');
  });

  test('export-onnx: a bad shard index names the index file', async () => {
    const sharded = await tinyFixture({ seed: 32, shards: 2 });
    try {
      await writeFile(join(sharded.checkpoint, 'model.safetensors.index.json'), '{"weight_map": ');
      const r = await run('export-onnx', [sharded.checkpoint, join(sharded.root, 'out')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /model\.safetensors\.index\.json/);
    } finally {
      await sharded.cleanup();
    }
  });
});
