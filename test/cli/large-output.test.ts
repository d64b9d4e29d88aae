/**
 * The CLIs as a user runs them, at sizes past two old limits: JSON output larger than a pipe's 64 KiB buffer
 * read by a slow consumer (it used to be cut where process.exit() caught it), and a package with a weights
 * file above 256 MiB (Web Crypto refuses to digest that much at once; the CLIs used to read packages whole).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readLocalManifest } from '../../backends/node/stores/disk-package.ts';
import { tinyFixture, type Fixture } from '../fixtures/export.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A shell command line, as typed by a user. */
function sh(command: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const IDS = '3,17,42,5,9,11,1,2,8,13,21,34,55';
const cli = (script: string, args: string) =>
  `${process.execPath} --import tsx scripts/${script}.ts ${args}`;

describe('CLIs past the old size limits', () => {
  let fx: Fixture;
  before(async () => {
    fx = await tinyFixture({ seed: 41 });
  });
  after(() => fx.cleanup());

  test('forward --json into a slow pipe: all of the output arrives (more than the 64 KiB pipe buffer)', async () => {
    const pkg = await fx.pkg('small');
    // The reader starts after the writer has filled the pipe, as `| jq` behind a busy machine would.
    const r = await sh(`npm run -s forward -- --model ${pkg} --ids ${IDS} --json | (sleep 1; cat)`);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.length > 65536, `only ${r.stdout.length} bytes arrived`);
    const out = JSON.parse(r.stdout) as { shape: number[]; logits: number[][] };
    assert.equal(out.logits.length, 13);
    assert.deepEqual(out.shape, [13, out.logits[0].length]);
  });

  test('forward and generate open a package with a file above 256 MiB', async () => {
    // Three MoE layers of 8 experts × 3 × 2048 × 512 fp32: a graph of about 300 MB.
    const big = await tinyFixture({
      seed: 42,
      layers: 4,
      hidden: 512,
      heads: 8,
      kvHeads: 2,
      headDim: 64,
      intermediate: 512,
      moeIntermediate: 2048,
    });
    try {
      const pkg = await big.pkg('big');
      const manifest = await readLocalManifest(pkg);
      const largest = Math.max(...manifest.files.map((f) => f.bytes));
      assert.ok(largest > 256 * 2 ** 20, `the largest file has ${largest} bytes`);
      const [fwd, gen] = await Promise.all([
        sh(cli('forward', `--model ${pkg} --ids 3,17,42,5 --json`)),
        sh(cli('generate', `--model ${pkg} --prompt-ids 3,17,42,5 --gen-length 8 --json`)),
      ]);
      assert.equal(fwd.code, 0, fwd.stderr);
      assert.equal(gen.code, 0, gen.stderr);
      const logits = (JSON.parse(fwd.stdout) as { logits: number[][] }).logits.flat();
      assert.equal(logits.length, 4 * manifest.tokens.vocab_size);
      assert.ok(logits.every(Number.isFinite));
      assert.equal((JSON.parse(gen.stdout) as { tokens: number[] }).tokens.length, 8);
    } finally {
      await big.cleanup();
    }
  });
});
