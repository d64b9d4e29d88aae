/**
 * CLI: npm run bench:api -- [--requests 1000] [--concurrency 8] [--seconds 5] [--json]
 *
 * What the API layer adds, in the real runtime: the built Worker in workerd (Miniflare) listening on loopback,
 * with D1 tenants and the Durable Object limiter. Paired, alternating requests: POST /v1/completions (tenant key
 * auth + limiter admission/release + OpenAI validation + usage metering) vs POST /internal/generate (the bare
 * backend call) with the same prompt ids and max_tokens 1, so the generation itself is one small forward.
 * Overhead = per-pair latency difference; p50/p99. The p99 of paired differences adds the noise of both calls;
 * what a client sees is how far the API's latency distribution sits above the bare call's, so the shift of each
 * percentile (p99 of the API calls less p99 of the bare calls, `overhead_p99_shift_ms`) is printed beside it, and
 * the null pair's shift shows how far apart two samples of the same bare call land. Its breakdown comes from the
 * API's `server-timing` header: the admission round trip (the one Durable Object call) and the overhead less it. Then requests/s at a fixed
 * concurrency on /v1/completions.
 *
 * Two Workers run side by side, their pairs interleaved: one with Miniflare's default storage (a temporary
 * directory on disk, where every Durable Object storage write is synced to the disk in the Worker's own process)
 * and one with its storage on tmpfs (/dev/shm, when there is one). The difference between them is this machine's
 * disk, not the API's work: on Cloudflare the object's writes are not synced on the request's path and the object
 * runs beside, not inside, the Worker's process. A null pair (bare vs bare, the same pairing) shows how much
 * of a paired difference's p99 the shared machine's noise makes by itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { intFlag, parseFlags, runMain } from '../backends/node/cli.ts';
import { buildWorker, type BuiltWorker } from '../backends/node/worker-harness.ts';
import { ensureTinyPackage } from '../backends/node/tiny-package.ts';
import { readLocalManifest } from '../backends/node/stores/disk-package.ts';
import { startApiPair, type ApiPair } from './api/pair.ts';

const log = (line: string) => process.stderr.write(`bench-api: ${line}\n`);
const PORT = 18787;
const TMPFS = '/dev/shm';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
const sort = (x: number[]) => [...x].sort((p, q) => p - q);

/** p50/p99 of the pairs one Worker answered, under `prefix` (no prefix: the figures of the default Worker). */
function summary(pair: ApiPair, prefix = '') {
  const { apiMs, bareMs, bare2Ms, admissionMs, modelMs } = pair.samples;
  const diffs = apiMs.map((a, i) => a - bareMs[i]);
  const rest = diffs.map((d, i) => d - admissionMs[i]);
  const figures: Record<string, number> = {};
  const put = (name: string, xs: number[]) => {
    const s = sort(xs);
    figures[`${prefix}${name}_p50_ms`] = percentile(s, 50);
    figures[`${prefix}${name}_p99_ms`] = percentile(s, 99);
  };
  put('api', apiMs);
  put('bare', bareMs);
  // How far the API's distribution sits above the bare call's, at each percentile (not per pair).
  const bareSorted = sort(bareMs);
  const shift = (xs: number[], p: number) => percentile(sort(xs), p) - percentile(bareSorted, p);
  figures[`${prefix}overhead_p50_shift_ms`] = shift(apiMs, 50);
  figures[`${prefix}overhead_p99_shift_ms`] = shift(apiMs, 99);
  figures[`${prefix}null_overhead_p99_shift_ms`] = shift(bare2Ms, 99);
  put('overhead', diffs);
  // Bare vs bare: the paired difference this machine's noise alone produces (no API work in it).
  put(
    'null_overhead',
    bare2Ms.map((b2, i) => b2 - bareMs[i]),
  );
  // From the API's server-timing header: the admission round trip and the generation, as the Worker saw them.
  put('admission', admissionMs);
  put('server_model', modelMs);
  // The overhead that is not the admission round trip: routing, validation, auth, response building.
  put('overhead_without_admission', rest);
  return figures;
}

runMain('bench-api', async () => {
  const { values } = parseFlags(
    process.argv.slice(2),
    {
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      seconds: { type: 'string' },
      json: { type: 'boolean' },
    },
    false,
  );
  // Enough pairs that a p99 is not one or two outliers (1000: the 10th largest).
  const n = intFlag(values.requests, 'requests', 10) ?? 1000;
  const concurrency = intFlag(values.concurrency, 'concurrency', 1) ?? 8;
  const seconds = intFlag(values.seconds, 'seconds', 1) ?? 5;
  const dir = await ensureTinyPackage();
  const manifest = await readLocalManifest(dir);
  const ids = Array.from({ length: 8 }, (_, i) => (i * 31 + 7) % (manifest.tokens.vocab_size - 8));
  log('building the Worker…');
  const built: BuiltWorker = await buildWorker();
  const tmpfsDir = existsSync(TMPFS) ? await mkdtemp(join(TMPFS, 'unmask-bench-api-')) : null;
  const pairs: ApiPair[] = [];
  try {
    pairs.push(await startApiPair(built, dir, ids, { port: PORT }));
    if (tmpfsDir)
      pairs.push(await startApiPair(built, dir, ids, { port: PORT + 1, persistDir: tmpfsDir }));
    log('warming up (model load)…');
    for (const pair of pairs) await pair.warmUp(10);
    for (let i = 0; i < n; i++) {
      // Alternate the order (api/bare, and which Worker first) so drift and caching hit every side equally.
      for (const pair of i % 4 < 2 ? pairs : [...pairs].reverse()) await pair.measure(i % 2 === 1);
      if ((i + 1) % 100 === 0) log(`${i + 1}/${n} pairs`);
    }
    log(`throughput: ${concurrency} concurrent clients for ${seconds} s…`);
    const rps = await pairs[0].throughput(concurrency, seconds);
    const result = {
      machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, workerd via miniflare (loopback HTTP)`,
      // The machine is shared: the 1-minute load average at the end says how contended the figures are.
      load_average_1m: loadavg()[0],
      requests: n,
      ...summary(pairs[0]),
      // The same, with the Worker's storage on tmpfs (absent without /dev/shm).
      ...(pairs[1] ? summary(pairs[1], 'tmpfs_') : {}),
      requests_per_second: rps,
      concurrency,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    // A table row: the p50 and p99 figures named, for the default Worker and the tmpfs one (null: no figure).
    const cells = (label: string, p50Key: string | null, p99Key: string) => {
      const f = (k: string | null) =>
        (k && (result as unknown as Record<string, number>)[k]?.toFixed(2)) || '–';
      return `| ${label} | ${f(p50Key)} | ${f(p99Key)} | ${f(p50Key && `tmpfs_${p50Key}`)} | ${f(`tmpfs_${p99Key}`)} |`;
    };
    const row = (label: string, key: string) => cells(label, `${key}_p50_ms`, `${key}_p99_ms`);
    console.log(`machine: ${result.machine}`);
    console.log(
      '| path | p50 ms | p99 ms | p50 ms, storage on tmpfs | p99 ms, storage on tmpfs |\n|---|---|---|---|---|',
    );
    console.log(row('/v1/completions (auth + limits + validation + metering)', 'api'));
    console.log(row('/internal/generate (bare backend call)', 'bare'));
    console.log(row('overhead (paired difference)', 'overhead'));
    console.log(row('null pair (bare vs bare: the machine noise alone)', 'null_overhead'));
    // The shift rows: the percentile of the API's (or the second bare call's) latencies less the bare call's.
    console.log(
      cells(
        'overhead as a shift of the distribution (api percentile − bare percentile)',
        'overhead_p50_shift_ms',
        'overhead_p99_shift_ms',
      ),
    );
    console.log(
      cells('null pair as a shift (second bare − bare)', null, 'null_overhead_p99_shift_ms'),
    );
    console.log(row('· admission round trip (server-timing)', 'admission'));
    console.log(row('· overhead less admission', 'overhead_without_admission'));
    console.log(row('generation as the Worker timed it (server-timing model)', 'server_model'));
    console.log(`load average (1 min): ${result.load_average_1m.toFixed(2)}`);
    console.log(
      `requests/s on loopback at concurrency ${concurrency} (max_tokens 1): ${rps.toFixed(1)}`,
    );
  } finally {
    for (const pair of pairs) await pair.dispose();
    await built.cleanup();
    if (tmpfsDir) await rm(tmpfsDir, { recursive: true, force: true });
  }
});
