/** Peak RSS per phase of a real child process, and the attribution rules on synthetic samples. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { phaseMeasures, runMeasured } from './measured-process.ts';

const MiB = 2 ** 20;
let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'unmask-measured-'));
});
after(() => rm(root, { recursive: true, force: true }));

test('a child that touches 300 MiB, then marks a phase and sleeps: the peak lands in the first phase', async () => {
  const reporter = fileURLToPath(new URL('./rss-report.ts', import.meta.url));
  const script = join(root, 'child.mts');
  await writeFile(
    script,
    [
      `import { markPhase } from ${JSON.stringify(reporter)};`,
      'markPhase("alloc");',
      'const held = Buffer.alloc(300 * 2 ** 20, 1);',
      'await new Promise((r) => setTimeout(r, 600));',
      'markPhase("idle");',
      'await new Promise((r) => setTimeout(r, 600));',
      'console.log(held.length);',
    ].join('\n'),
  );
  const r = await runMeasured([script], { reportFile: join(root, 'rss.jsonl') });
  assert.equal(r.code, 0, r.stderrTail.join('\n'));
  assert.equal(r.stdout.trim(), String(300 * MiB));
  assert.deepEqual(
    r.phases.map((p) => p.phase),
    ['alloc', 'idle'],
  );
  const [alloc, idle] = r.phases;
  assert.ok(alloc.peakRssBytes >= 300 * MiB, `alloc peak ${alloc.peakRssBytes / MiB} MiB`);
  assert.ok(r.peakRssBytes < 1024 * MiB, `peak ${r.peakRssBytes / MiB} MiB`);
  assert.ok(idle.wallMs >= 500 && alloc.wallMs >= 500);
});

test('phaseMeasures: samples by time, raised to the high-water mark when it grew within the phase', () => {
  const marks = [
    { phase: 'load', at: 1000, peakBytes: 10 },
    { phase: 'generate', at: 5000, peakBytes: 900 },
    { phase: 'exit', at: 9000, peakBytes: 1200 },
  ];
  const samples = [
    { at: 2000, bytes: 700 },
    { at: 6000, bytes: 800 },
    { at: 8000, bytes: 1100 },
  ];
  assert.deepEqual(phaseMeasures(marks, samples, 1000, 9000), [
    { phase: 'load', wallMs: 4000, peakRssBytes: 900 },
    { phase: 'generate', wallMs: 4000, peakRssBytes: 1200 },
  ]);
  // No marks: one phase, 'main', peak from the exit mark.
  assert.deepEqual(phaseMeasures([{ phase: 'exit', at: 3000, peakBytes: 50 }], [], 0, 3000), [
    { phase: 'main', wallMs: 3000, peakRssBytes: 50 },
  ]);
});
