/**
 * The CLIs as a user runs them, at sizes past two old limits: JSON output larger than a pipe's 64 KiB buffer
 * read by a slow consumer (it used to be cut where process.exit() caught it), and a package with a weights
 * file above 2 GiB (Web Crypto refuses to digest that much at once; the CLIs used to read packages whole).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { exportPackage } from '../../backends/node/export/export-package.ts';
import { runMeasured } from '../../backends/node/rehearse/measured-process.ts';
import {
  LLADA2_CI_CONFIG,
  PRESET_SPECIAL_IDS,
  presetTensors,
} from '../../backends/node/rehearse/presets.ts';
import { writeRandomCheckpoint } from '../../backends/node/rehearse/random-checkpoint.ts';
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

  test('forward and generate open a package whose weights file is above 2 GiB, without holding it in JS memory', async () => {
    // LLaDA2.0-mini's vocabulary at hidden 1024 with two MoE layers of 40 experts: 594 M parameters, 2.4 GB
    // of fp32 external data (Web Crypto cannot digest 2 GiB at once; the CLIs used to read packages whole).
    const config = {
      ...LLADA2_CI_CONFIG,
      num_hidden_layers: 3,
      hidden_size: 1024,
      num_attention_heads: 8,
      head_dim: 128,
      rotary_dim: 64,
      intermediate_size: 2048,
      moe_intermediate_size: 1024,
      moe_shared_expert_intermediate_size: 1024,
      num_experts: 40,
      topk_group: 2,
    };
    const checkpoint = join(fx.root, 'big-ckpt');
    await writeRandomCheckpoint({
      dir: checkpoint,
      config,
      tensors: presetTensors(config),
      specialIds: PRESET_SPECIAL_IDS,
      zeroHeadRows: [156895],
    });
    const pkg = join(fx.root, 'big');
    await exportPackage({ checkpointDir: checkpoint, outDir: pkg, dtype: 'fp32' });
    await rm(checkpoint, { recursive: true });
    const manifest = await readLocalManifest(pkg);
    const weights = manifest.files.find((f) => f.role === 'weights')!;
    assert.ok(weights.bytes > 2 ** 31, `the weights file has ${weights.bytes} bytes`);
    const fwd = await runMeasured(
      ['scripts/forward.ts', '--model', pkg, '--ids', '3,17,42,5', '--json'],
      { reportFile: join(fx.root, 'forward.rss') },
    );
    assert.equal(fwd.code, 0, fwd.stderrTail.join('\n'));
    const logits = (JSON.parse(fwd.stdout) as { logits: number[][] }).logits.flat();
    assert.equal(logits.length, 4 * manifest.tokens.vocab_size);
    assert.ok(logits.every(Number.isFinite));
    // onnxruntime holds the weights once; a second copy in JS (the old in-memory load) would double this.
    assert.ok(
      fwd.peakRssBytes < 1.5 * weights.bytes,
      `forward peaked at ${(fwd.peakRssBytes / 2 ** 30).toFixed(2)} GiB for ${(weights.bytes / 2 ** 30).toFixed(2)} GiB of weights`,
    );
    const gen = await sh(
      cli('generate', `--model ${pkg} --prompt-ids 3,17,42,5 --gen-length 8 --json`),
    );
    assert.equal(gen.code, 0, gen.stderr);
    assert.equal((JSON.parse(gen.stdout) as { tokens: number[] }).tokens.length, 8);
  });
});
