/**
 * CLI: npm run bench:open -- [--package DIR ...] [--runs 3] [--json]
 *
 * Time to open a package on Node (what a `serve:api` or GPU-server start pays before it listens): verification,
 * then the onnxruntime-node session, each open in a fresh process. Per package, side by side in interleaved
 * rounds: `UNMASK_VERIFY=full` (every file hashed) against the default verified stamps (files hashed once, then
 * trusted while their stat is unchanged; backends/node/stores/verified-stamps.ts). Pass an inline and an external-
 * data export of one checkpoint (`export-onnx --external-data never|always`) to compare the layouts too.
 * Default package: the demo model. Medians; table on stdout, progress on stderr.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { intFlag, parseFlags, runMain } from '../backends/node/cli.ts';
import { readLocalManifest } from '../backends/node/stores/disk-package.ts';
import { RACY_MS } from '../backends/node/stores/verified-stamps.ts';
import { jsonChild } from './json-child.ts';
import { median } from './model/measure.ts';

const log = (line: string) => process.stderr.write(`bench-open: ${line}\n`);
const MODES = ['full', 'stamp'] as const;
type Mode = (typeof MODES)[number];

interface Open {
  verifyMs: number;
  sessionMs: number;
  totalMs: number;
}

function openInChild(dir: string, mode: Mode, cacheDir: string): Promise<Open> {
  return jsonChild<Open>(
    'benchmarks/open/child.ts',
    [dir, mode, cacheDir],
    `opening ${dir} (${mode})`,
  );
}

/** Newest ctime among the package's files: a stamp is only taken once it is RACY_MS old. */
async function newestChangeMs(dir: string): Promise<number> {
  const manifest = await readLocalManifest(dir);
  const times = await Promise.all(
    manifest.files.map(async (f) => (await stat(join(dir, f.path))).ctimeMs),
  );
  return Math.max(...times);
}

runMain('bench-open', async () => {
  const { values } = parseFlags(
    process.argv.slice(2),
    {
      package: { type: 'string', multiple: true },
      runs: { type: 'string' },
      json: { type: 'boolean' },
    },
    false,
  );
  const packages = values.package ?? ['assets/demo-model'];
  const runs = intFlag(values.runs, 'runs', 1) ?? 3;
  const cacheDir = await mkdtemp(join(tmpdir(), 'unmask-bench-open-'));
  try {
    const wait =
      Math.max(...(await Promise.all(packages.map(newestChangeMs)))) + RACY_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait + 100));
    for (const dir of packages) {
      log(`${dir}: first open (hashes and stamps)…`);
      await openInChild(dir, 'stamp', cacheDir);
    }
    const times = new Map<string, Open[]>();
    for (let round = 0; round < runs; round++) {
      for (const dir of packages)
        for (const mode of round % 2 ? [...MODES].reverse() : MODES) {
          const key = `${dir}\t${mode}`;
          times.set(key, [...(times.get(key) ?? []), await openInChild(dir, mode, cacheDir)]);
        }
      log(`round ${round + 1}/${runs}`);
    }
    const rows = [...times].map(([key, opens]) => {
      const [dir, mode] = key.split('\t');
      return {
        package: dir,
        verify: mode,
        verify_ms: median(opens.map((o) => o.verifyMs)),
        session_ms: median(opens.map((o) => o.sessionMs)),
        total_ms: median(opens.map((o) => o.totalMs)),
      };
    });
    const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, load average ${loadavg()[0].toFixed(1)}`;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ machine, runs, opens: rows })}\n`);
      return;
    }
    console.log(`machine: ${machine}; medians of ${runs} fresh processes per row`);
    console.log(
      '| package | verification | verify ms | session ms | open ms |\n|---|---|---|---|---|',
    );
    for (const r of rows)
      console.log(
        `| ${r.package} | ${r.verify === 'full' ? 'full (UNMASK_VERIFY=full)' : 'stamped'} | ${r.verify_ms.toFixed(0)} | ${r.session_ms.toFixed(0)} | ${r.total_ms.toFixed(0)} |`,
      );
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});
