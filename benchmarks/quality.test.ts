/**
 * bench:quality as a process: several packages side by side (--package, repeatable), the JSON keys other tools
 * read, and one-line errors for the flags that combine badly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tinyFixture, type Fixture } from '../test/fixtures/export.ts';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'benchmarks/quality.ts', ...args],
      { env: { ...process.env, UNMASK_DEBUG: '', UNMASK_API_KEY: '' } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const QUICK = [
  '--limit',
  '2',
  '--task',
  'add',
  '--thresholds',
  '0.9',
  '--algorithms',
  'low_confidence',
];

describe('bench:quality', () => {
  let fx: Fixture;
  const dirs: Record<string, string> = {};
  before(async () => {
    fx = await tinyFixture({ seed: 5 });
    dirs.fp32 = await fx.pkg('fp32');
    dirs.int8 = await fx.pkg('int8', { dtype: 'int8' });
  });
  after(() => fx.cleanup());

  test('--package twice: both measured, JSON keeps tasks.* and adds packages.<name>', async () => {
    const r = await run(['--package', dirs.fp32, '--package', dirs.int8, '--json', ...QUICK]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(typeof json.tasks.add.accuracy_at_0_9, 'number');
    assert.deepEqual(Object.keys(json.packages), ['fp32', 'int8']);
    for (const name of ['fp32', 'int8']) {
      const p = json.packages[name];
      const manifest = JSON.parse(await readFile(join(dirs[name], 'manifest.json'), 'utf8'));
      const bytes = manifest.files.reduce((s: number, f: { bytes: number }) => s + f.bytes, 0);
      assert.equal(p.bytes, bytes);
      assert.equal(p.dtype, name);
      assert.equal(p.tasks.add.examples, 2);
      assert.equal(typeof p.tasks.add.accuracy_at_0_9, 'number');
      assert.equal(p.wasm_heap_bytes, null);
    }
    assert.equal(json.tasks.add.accuracy_at_0_9, json.packages.fp32.tasks.add.accuracy_at_0_9);
  });

  test('--runtime wasm (ORT-web in Node) reports the package’s wasm heap', async () => {
    const r = await run(['--package', dirs.int8, '--runtime', 'wasm', '--json', ...QUICK]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.runtime, 'wasm');
    const heap = json.packages.int8.wasm_heap_bytes;
    assert.ok(
      heap.after_create >= 16 << 20 && heap.after_forward >= heap.after_create,
      JSON.stringify(heap),
    );
  });

  test('bad combinations fail with one line and exit 1', async () => {
    const cases: [string[], RegExp][] = [
      [['--package', dirs.fp32, '--package', join(fx.root, 'missing')], /not a model package/],
      [['--package', dirs.fp32, '--package', dirs.fp32], /two packages are named "fp32"/],
      [
        ['--api', 'http://127.0.0.1:8787', '--package', dirs.fp32],
        /--package applies to local packages/,
      ],
      [['--package', dirs.fp32, '--runtime', 'gpu'], /--runtime must be one of node, wasm/],
    ];
    const results = await Promise.all(cases.map(([args]) => run([...args, ...QUICK])));
    results.forEach((r, i) => {
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(r.code, 1, `${cases[i][0].join(' ')}: exit ${r.code}`);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^bench:quality: /);
      assert.match(lines[0], cases[i][1]);
    });
  });
});
