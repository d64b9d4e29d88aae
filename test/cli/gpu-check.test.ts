/**
 * scripts/gpu-check.sh without a GPU: its argument handling, and the Vulkan set-up it does for onnxruntime's
 * WebGPU provider on a machine with no loader installed (the carried one is used; without it, one line says how
 * to get it). Its CPU path (`run --provider cpu --quick`) takes minutes and is run by hand (docs/full-size.md).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function gpuCheck(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'bash',
      ['scripts/gpu-check.sh', ...args],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'unmask-gpucheck-'));
});
after(() => rm(root, { recursive: true, force: true }));

test('bad arguments exit 2 with one line naming the problem', async () => {
  const cases: [string[], RegExp][] = [
    [[], /usage: scripts\/gpu-check\.sh prepare \| run/],
    [['run', '--provider', 'tpu'], /provider must be webgpu, cuda or cpu, got 'tpu'/],
    [['run', '--rehearse-layers', 'four'], /--rehearse-layers must be a positive integer/],
    [['run', '--fast'], /unknown option '--fast'/],
  ];
  for (const [args, pattern] of cases) {
    const r = await gpuCheck(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  }
});

test(
  'vulkan-env: the carried loader when the system has none; a clear line when it is not there',
  { skip: process.platform !== 'linux' },
  async () => {
    const missing = await gpuCheck(['vulkan-env'], { GPU_DEPS_DIR: join(root, 'none') });
    // A machine with a system loader needs nothing carried.
    if (missing.code === 0) {
      assert.match(missing.stderr, /Vulkan loader: system/);
      return;
    }
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /run 'scripts\/gpu-check\.sh prepare'/);
    const deps = join(root, 'deps');
    await mkdir(join(deps, 'lib'), { recursive: true });
    await writeFile(join(deps, 'lib', 'libvulkan.so.1'), '');
    const carried = await gpuCheck(['vulkan-env'], { GPU_DEPS_DIR: deps });
    assert.equal(carried.code, 0, carried.stderr);
    assert.match(carried.stdout, new RegExp(`export LD_LIBRARY_PATH=${join(deps, 'lib')}`));
  },
);
