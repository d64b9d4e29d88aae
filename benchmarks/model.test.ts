/**
 * bench:model as a process on given packages (--package, repeatable): each measured on ORT-node and ORT-web with
 * its ratio to the fp32 package, and one-line errors for unknown --variants and missing packages.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { tinyFixture, type Fixture } from '../test/fixtures/export.ts';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'benchmarks/model.ts', ...args],
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('bench:model --package', () => {
  let fx: Fixture;
  const dirs: Record<string, string> = {};
  before(async () => {
    fx = await tinyFixture({ seed: 6 });
    dirs.fp32 = await fx.pkg('fp32');
    dirs.int8 = await fx.pkg('int8', { dtype: 'int8' });
  });
  after(() => fx.cleanup());

  test('measures the given packages on both runtimes, against the first (fp32) one', async () => {
    const r = await run([
      ...['--package', dirs.fp32, '--package', dirs.int8],
      ...['--runs', '2', '--warmup', '0', '--json'],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(
      report.rows.map((row: { variant: string; dtype: string }) => [row.variant, row.dtype]),
      [
        ['fp32', 'fp32'],
        ['int8', 'int8'],
      ],
    );
    assert.deepEqual(report.moeScaling, []);
    const [fp32, int8] = report.rows;
    assert.equal(fp32.maxAbsDeltaLogits, 0);
    assert.ok(int8.maxAbsDeltaLogits > 0, 'int8 logits differ from fp32');
    assert.ok(int8.packageBytes < fp32.packageBytes);
    for (const row of report.rows) {
      assert.equal(row.node.forward.samplesMs.length, 2);
      assert.equal(row.wasm.forward.samplesMs.length, 2);
      assert.ok(row.wasm.heapMiB.afterCreate >= 16, JSON.stringify(row.wasm.heapMiB));
      assert.ok(row.wasm.maxAbsDeltaTopkVsNode < 1e-3, 'ORT-web agrees with ORT-node');
    }
  });

  test('unknown --variants and a missing package fail with one line', async () => {
    const cases: [string[], RegExp][] = [
      [['--models', 'tiny', '--variants', 'fp32,int3'], /--variants: unknown variant "int3"/],
      [['--package', join(fx.root, 'missing')], /missing/],
    ];
    for (const [args, want] of cases) {
      const r = await run(args);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}`);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^bench-model: /);
      assert.match(lines[0], want);
    }
  });
});
