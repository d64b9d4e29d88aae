// The CLI is spawned with `node --import tsx` (what `npx tsx` runs) so npm's own warnings stay out of stderr.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_TINY_OPTIONS,
  TinyOptionsError,
  parseTinyArgs,
} from '../../src/export/tiny/options.ts';

const SCRIPT = 'scripts/make-tiny-model.ts';

function runCli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { encoding: 'utf8' });
}

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'unmask-cli-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('argument parsing', () => {
  test('defaults, flags and --flag=value', () => {
    assert.deepEqual(parseTinyArgs(['--out', 'x']), { ...DEFAULT_TINY_OPTIONS, out: 'x' });
    const o = parseTinyArgs([
      '--out=y',
      '--seed',
      '5',
      '--dtype',
      'bf16',
      '--tie-embeddings',
      '--no-qk-norm',
      '--rotary-factor=1',
      '--shards',
      '2',
    ]);
    assert.equal(o.out, 'y');
    assert.equal(o.seed, 5);
    assert.equal(o.dtype, 'bf16');
    assert.equal(o.tieEmbeddings, true);
    assert.equal(o.qkNorm, false);
    assert.equal(o.rotaryFactor, 1);
    assert.equal(o.shards, 2);
  });

  const bad: [string[], RegExp][] = [
    [['--out', 'x', '--bogus'], /unknown option "--bogus"/],
    [['--layers', '2'], /--out DIR is required/],
    [['--out', 'x', '--layers', '2.5'], /--layers must be an integer/],
    [['--out', 'x', '--layers'], /--layers needs a value/],
    [['--out', 'x', '--dtype', 'f8'], /--dtype must be f32, bf16 or f16/],
    [
      ['--out', 'x', '--experts', '6', '--groups', '4'],
      /experts \(6\) must be divisible by groups \(4\)/,
    ],
    [['--out', 'x', '--heads', '4', '--kv-heads', '3'], /multiple of kv-heads/],
    [['--out', 'x', '--experts-per-tok', '5'], /experts-per-tok \(5\) exceeds/],
    [['--out', 'x', '--dense-layers', '3'], /dense-layers \(3\) exceeds layers \(2\)/],
    [['--out', 'x', '--head-dim', '6', '--rotary-factor', '0.5'], /even rotary size/],
    [['--out', 'x', '--vocab', '100'], /vocab must be at least 261/],
    [['--out', 'x', '--seed', '-1'], /seed must be a non-negative integer/],
    [['--out', 'x', '--groups', '8'], /at least 2 experts/],
  ];
  for (const [args, message] of bad) {
    test(`rejects ${args.slice(2).join(' ') || args.join(' ')}`, () => {
      assert.throws(
        () => parseTinyArgs(args),
        (e: Error) => e instanceof TinyOptionsError && message.test(e.message),
      );
    });
  }
});

describe('CLI', () => {
  test('a bad flag exits non-zero with one line on stderr', () => {
    const r = runCli(['--out', join(root, 'bad'), '--experts', '6', '--groups', '4']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^make-tiny-model: experts \(6\) must be divisible by groups \(4\)\n$/);
    assert.ok(!existsSync(join(root, 'bad')));
  });

  test('writes a checkpoint and reports progress on stderr', () => {
    const out = join(root, 'ok');
    const r = runCli(['--out', out, '--seed', '1', '--shards', '2']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /make-tiny-model: wrote /);
    for (const f of [
      'config.json',
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]) {
      assert.ok(existsSync(join(out, f)), f);
    }
  });
});
