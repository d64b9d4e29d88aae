import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { childPids, processCpuMs } from './process-cpu.ts';

const linux = existsSync('/proc/self/stat');

test(
  'finds a child by name and reads its CPU time',
  { skip: !linux && 'needs Linux /proc' },
  async () => {
    const child = spawn('sleep', ['5']);
    try {
      await new Promise((ok) => child.once('spawn', ok));
      // The exec into `sleep` may land a moment after 'spawn'.
      let pids: number[] = [];
      for (let i = 0; i < 50 && !pids.includes(child.pid!); i++) {
        pids = childPids('sleep');
        if (!pids.includes(child.pid!)) await new Promise((ok) => setTimeout(ok, 20));
      }
      assert.deepEqual(pids, [child.pid]);
      const cpu = processCpuMs(child.pid!);
      assert.ok(cpu !== null && cpu >= 0 && Number.isFinite(cpu));
      assert.deepEqual(childPids('no-such-child'), []);
    } finally {
      child.kill();
    }
  },
);

test('a pid with no process reads as null', { skip: !linux && 'needs Linux /proc' }, () => {
  assert.equal(processCpuMs(2 ** 31 - 1), null);
});
