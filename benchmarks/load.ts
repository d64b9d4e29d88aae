/**
 * CLI: npm run bench:load -- [--mib 512] [--json]
 * Peak memory and time to load a package with one large weights file: the in-memory loader (what the Worker uses;
 * the whole package becomes buffers) against the disk path (what the GPU server and the Node API use: ranged
 * reads streamed into the disk cache, verified by a streamed sha256), each in a fresh process, side by side. The
 * package is the tiny model plus a random `padding.bin` of --mib MiB listed in its manifest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { cp, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intFlag, parseFlags, runMain } from '../backends/node/cli.ts';
import { ensureTinyPackage } from '../backends/node/tiny-package.ts';
import { jsonChild } from './json-child.ts';

const MiB = 2 ** 20;
const log = (line: string) => process.stderr.write(`bench-load: ${line}\n`);

interface Run {
  mode: string;
  ms: number;
  peakRssMiB: number;
  baseRssMiB: number;
}

function child(mode: string, dir: string, cacheDir: string): Promise<Run> {
  return jsonChild<Run>('benchmarks/load/child.ts', [mode, dir, cacheDir], `${mode} load`);
}

/** Copies the tiny package and appends a random file of `mib` MiB to it and its manifest. */
async function bigPackage(mib: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'unmask-bench-load-'));
  await cp(await ensureTinyPackage({ quiet: true }), dir, { recursive: true });
  const hash = createHash('sha256');
  const file = await open(join(dir, 'padding.bin'), 'w');
  for (let i = 0; i < mib; i++) {
    const chunk = randomBytes(MiB);
    hash.update(chunk);
    await file.write(chunk);
    if ((i + 1) % 128 === 0) log(`writing padding.bin: ${i + 1}/${mib} MiB`);
  }
  await file.close();
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as {
    files: { path: string; role: string; bytes: number; sha256: string }[];
  };
  manifest.files.push({
    path: 'padding.bin',
    role: 'weights',
    bytes: mib * MiB,
    sha256: hash.digest('hex'),
  });
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

runMain('bench-load', async () => {
  const { values: v } = parseFlags(
    process.argv.slice(2),
    { mib: { type: 'string' }, json: { type: 'boolean' } },
    false,
  );
  const mib = intFlag(v.mib, 'mib', 1) ?? 512;
  const dir = await bigPackage(mib);
  const cacheDir = await mkdtemp(join(tmpdir(), 'unmask-bench-cache-'));
  try {
    const runs: Run[] = [];
    for (const mode of ['memory', 'disk', 'disk'] as const) {
      log(`${mode}${runs.some((r) => r.mode === 'disk') ? ' (cache warm)' : ''}…`);
      runs.push(await child(mode, dir, cacheDir));
    }
    const [memory, disk, warm] = runs;
    const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs, Node ${process.versions.node}`;
    if (v.json) {
      process.stdout.write(
        `${JSON.stringify({ machine, package_mib: mib, memory, disk, disk_cache_warm: warm, peak_rss_ratio: (memory.peakRssMiB - memory.baseRssMiB) / Math.max(1, disk.peakRssMiB - disk.baseRssMiB) })}\n`,
      );
      return;
    }
    const row = (label: string, r: Run) =>
      `| ${label} | ${r.ms.toFixed(0)} | ${r.peakRssMiB.toFixed(0)} | ${(r.peakRssMiB - r.baseRssMiB).toFixed(0)} |`;
    process.stdout.write(
      [
        `bench:load — a ${mib} MiB package through a non-local store (${machine})`,
        '',
        '| loader | ms | peak RSS MiB | growth MiB |',
        '|---|---|---|---|',
        row('in memory (Worker)', memory),
        row('disk, cold cache (GPU server, Node API)', disk),
        row('disk, warm cache', warm),
        '',
        `RSS growth ratio memory ÷ disk: ${((memory.peakRssMiB - memory.baseRssMiB) / Math.max(1, disk.peakRssMiB - disk.baseRssMiB)).toFixed(1)}×`,
        '',
      ].join('\n'),
    );
  } finally {
    await Promise.all([
      rm(dir, { recursive: true, force: true }),
      rm(cacheDir, { recursive: true, force: true }),
    ]);
  }
});
