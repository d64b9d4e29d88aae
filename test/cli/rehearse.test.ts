/**
 * `npm run rehearse` as a user runs it, at CI size: the llada2-ci preset (LLaDA2.0-mini's structure and
 * vocabulary at hidden 256 with 32 experts) goes through the whole pipeline in about a minute on 2 cores. The
 * 4-layer llada2-mini run the issue names takes 20–30 minutes on the same machine (a 6.3 GB checkpoint, 2.4 GB
 * int4 package, several seconds per forward), too slow for the suite; its figures are in docs/full-size.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function npmRun(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('npm', ['run', '-s', ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const STAGES = ['checkpoint', 'export', 'publish', 'load', 'generate'];

test('rehearse --json: every stage measured, outputs finite, the cached decode equals the reference; nothing left behind', async () => {
  const work = await mkdtemp(join(tmpdir(), 'unmask-rehearse-test-'));
  try {
    const r = await npmRun([
      'rehearse',
      '--',
      '--preset',
      'llada2-ci',
      '--layers',
      '2',
      '--dtype',
      'int4',
      '--work',
      work,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.layers, 2);
    assert.equal(report.dtype, 'int4');
    assert.equal(report.provider, 'cpu');
    for (const s of STAGES) {
      assert.ok(report.stages[s].wall_s > 0, `${s} wall_s`);
      assert.ok(
        report.stages[s].peak_rss_mib > 20,
        `${s} peak_rss_mib ${report.stages[s].peak_rss_mib}`,
      );
    }
    assert.ok(report.stages.publish.s3_server_peak_rss_mib > 20);
    assert.ok(report.stages.load.session_s > 0 && report.stages.load.fetch_s > 0);
    assert.ok(report.package_bytes > 10e6);
    // The package directory holds the package's files and its manifest.
    const manifestBytes = report.stages.export.disk_bytes - report.package_bytes;
    assert.ok(manifestBytes > 0 && manifestBytes < 100_000, `manifest ${manifestBytes} bytes`);
    assert.deepEqual(report.package_bytes_by_dtype.int4, {
      bytes: report.package_bytes,
      measured: true,
    });
    assert.ok(
      report.package_bytes_by_dtype.fp32.bytes > 2 * report.package_bytes_by_dtype.fp16.bytes * 0.9,
    );
    assert.equal(report.tokens.length, 64);
    assert.ok(report.tokens.every((t: number) => Number.isInteger(t) && t >= 0 && t < 157184));
    assert.deepEqual(report.tokens.slice(0, 32), report.reference_tokens);
    assert.equal(report.cached_equals_reference, true);
    assert.equal(report.finite, true);
    assert.ok(report.ms_per_block > 0 && report.tokens_per_s > 0);
    assert.ok(report.machine.cores > 0 && report.machine.memory_gib > 0 && report.machine.cpu);
    assert.deepEqual(await readdir(work), [], 'intermediate outputs are removed');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test('rehearse: bad flags exit 1 with one line', async () => {
  const runs = await Promise.all([
    npmRun(['rehearse', '--', '--preset', 'llada2-giant']),
    npmRun(['rehearse', '--', '--preset', 'llada2-mini', '--dtype', 'int3']),
    npmRun(['rehearse', '--', '--preset', 'llada2-mini', '--layers', '0']),
    npmRun(['rehearse', '--', '--preset', 'llada2-mini', '--providers', 'tpu']),
  ]);
  for (const r of runs) {
    assert.equal(r.code, 1);
    const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^rehearse: /);
  }
});
