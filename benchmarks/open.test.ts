/**
 * bench:open end to end on the demo model (one round): each verification mode opens the package in its own
 * process and reports its phases; an unknown UNMASK_VERIFY value fails the open with its one-line reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

test('bench:open --json reports both verification modes of the package', async () => {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'benchmarks/open.ts', '--runs', '1', '--json'],
    { maxBuffer: 1 << 20 },
  );
  const result = JSON.parse(stdout) as {
    machine: string;
    opens: { package: string; verify: string; verify_ms: number; session_ms: number }[];
  };
  assert.deepEqual(result.opens.map((o) => o.verify).sort(), ['full', 'stamp']);
  for (const o of result.opens) {
    assert.equal(o.package, 'assets/demo-model');
    assert.ok(o.verify_ms >= 0 && o.session_ms > 0, JSON.stringify(o));
  }
});

test('an unknown UNMASK_VERIFY is refused before anything is opened', async () => {
  await assert.rejects(
    run(process.execPath, [
      '--import',
      'tsx',
      'benchmarks/open/child.ts',
      'assets/demo-model',
      'sometimes',
      '/tmp/unmask-open-test-cache',
    ]),
    (e: { stderr?: string }) => /UNMASK_VERIFY must be stamp or full/.test(e.stderr ?? ''),
  );
});
