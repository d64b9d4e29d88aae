/**
 * CLI: npm run bench:api -- [--requests 200] [--concurrency 8] [--seconds 5] [--json]
 *
 * What the API layer adds, in the real runtime: the built Worker in workerd (Miniflare) listening on loopback,
 * with D1 tenants and the Durable Object limiter. Paired, alternating requests: POST /v1/completions (tenant key
 * auth + limiter admission/release + OpenAI validation + usage metering) vs POST /internal/generate (the bare
 * backend call) with the same prompt ids and max_tokens 1, so the generation itself is one small forward.
 * Overhead = per-pair latency difference; p50/p99. Its breakdown comes from the API's `server-timing` header:
 * the admission round trip (the one Durable Object call) and the overhead less it. Then requests/s at a fixed
 * concurrency on /v1/completions.
 */
import { cpus, loadavg } from 'node:os';
import { intFlag, parseFlags, runMain } from '../backends/node/cli.ts';
import {
  buildWorker,
  seedPackage,
  startWorker,
  TEST_ADMIN_TOKEN,
} from '../backends/node/worker-harness.ts';
import { ensureTinyPackage } from '../backends/node/tiny-package.ts';
import { readLocalManifest } from '../backends/node/stores/disk-package.ts';
import { parseServerTiming } from '../src/api/serving/server-timing.ts';

const log = (line: string) => process.stderr.write(`bench-api: ${line}\n`);
const PORT = 18787;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
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
  const n = intFlag(values.requests, 'requests', 10) ?? 200;
  const concurrency = intFlag(values.concurrency, 'concurrency', 1) ?? 8;
  const seconds = intFlag(values.seconds, 'seconds', 1) ?? 5;
  const dir = await ensureTinyPackage();
  const manifest = await readLocalManifest(dir);
  log('building the Worker…');
  const built = await buildWorker();
  const worker = await startWorker(built, {
    edgeModel: 'tiny',
    listen: { host: '127.0.0.1', port: PORT },
  });
  try {
    await seedPackage(worker, dir);
    const base = `http://127.0.0.1:${PORT}`;
    const adminHeaders = {
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
      'content-type': 'application/json',
    };
    const tenant = (await (
      await fetch(`${base}/admin/tenants`, {
        method: 'POST',
        headers: adminHeaders,
        body: JSON.stringify({
          name: 'bench',
          rpm: 1_000_000,
          tpm: 100_000_000,
          max_concurrent: 1000,
        }),
      })
    ).json()) as { id: string };
    const { key } = (await (
      await fetch(`${base}/admin/tenants/${tenant.id}/keys`, {
        method: 'POST',
        headers: adminHeaders,
        body: '{}',
      })
    ).json()) as { key: string };
    const ids = Array.from(
      { length: 8 },
      (_, i) => (i * 31 + 7) % (manifest.tokens.vocab_size - 8),
    );
    const api = () =>
      fetch(`${base}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny', prompt: ids, max_tokens: 1 }),
      });
    const bare = () =>
      fetch(`${base}/internal/generate`, {
        method: 'POST',
        headers: adminHeaders,
        body: JSON.stringify({ prompt_ids: ids, max_tokens: 1 }),
      });
    // The API's own account of each request (server-timing: admission, model, total), kept per pair.
    const spans: Record<string, number>[] = [];
    const timed = async (call: () => Promise<Response>) => {
      const t0 = performance.now();
      const res = await call();
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const ms = performance.now() - t0;
      const timing = res.headers.get('server-timing');
      if (timing) spans.push(parseServerTiming(timing));
      return ms;
    };
    log('warming up (model load)…');
    for (let i = 0; i < 10; i++) {
      await timed(api);
      await timed(bare);
    }
    spans.length = 0;
    const apiMs: number[] = [];
    const bareMs: number[] = [];
    const diffs: number[] = [];
    for (let i = 0; i < n; i++) {
      // Alternate the order so drift and caching hit both sides equally.
      let a: number;
      let b: number;
      if (i % 2) {
        a = await timed(api);
        b = await timed(bare);
      } else {
        b = await timed(bare);
        a = await timed(api);
      }
      apiMs.push(a);
      bareMs.push(b);
      diffs.push(a - b);
      if ((i + 1) % 50 === 0) log(`${i + 1}/${n} pairs`);
    }
    const sort = (x: number[]) => [...x].sort((p, q) => p - q);
    const [sa, sb, sd] = [sort(apiMs), sort(bareMs), sort(diffs)];
    const span = (name: string) => sort(spans.map((s) => s[name] ?? 0));
    const [admission, model] = [span('admission'), span('model')];
    // The overhead that is not the admission round trip: routing, validation, auth, response building.
    const rest = sort(diffs.map((d, i) => d - (spans[i]?.admission ?? 0)));
    log(`throughput: ${concurrency} concurrent clients for ${seconds} s…`);
    let done = 0;
    const until = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          await timed(api);
          done++;
        }
      }),
    );
    const rps = done / seconds;
    const result = {
      machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, workerd via miniflare (loopback HTTP)`,
      // The machine is shared: the 1-minute load average at the end says how contended the figures are.
      load_average_1m: loadavg()[0],
      requests: n,
      api_p50_ms: percentile(sa, 50),
      api_p99_ms: percentile(sa, 99),
      bare_p50_ms: percentile(sb, 50),
      bare_p99_ms: percentile(sb, 99),
      overhead_p50_ms: percentile(sd, 50),
      overhead_p99_ms: percentile(sd, 99),
      // From the API's server-timing header: the admission round trip and the generation, as the Worker saw them.
      admission_p50_ms: percentile(admission, 50),
      admission_p99_ms: percentile(admission, 99),
      server_model_p50_ms: percentile(model, 50),
      server_model_p99_ms: percentile(model, 99),
      overhead_without_admission_p50_ms: percentile(rest, 50),
      overhead_without_admission_p99_ms: percentile(rest, 99),
      requests_per_second: rps,
      concurrency,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    console.log(`machine: ${result.machine}`);
    console.log('| path | p50 ms | p99 ms |\n|---|---|---|');
    console.log(
      `| /v1/completions (auth + limits + validation + metering) | ${result.api_p50_ms.toFixed(2)} | ${result.api_p99_ms.toFixed(2)} |`,
    );
    console.log(
      `| /internal/generate (bare backend call) | ${result.bare_p50_ms.toFixed(2)} | ${result.bare_p99_ms.toFixed(2)} |`,
    );
    console.log(
      `| overhead (paired difference) | ${result.overhead_p50_ms.toFixed(2)} | ${result.overhead_p99_ms.toFixed(2)} |`,
    );
    console.log(
      `| · admission round trip (server-timing) | ${result.admission_p50_ms.toFixed(2)} | ${result.admission_p99_ms.toFixed(2)} |`,
    );
    console.log(
      `| · overhead less admission | ${result.overhead_without_admission_p50_ms.toFixed(2)} | ${result.overhead_without_admission_p99_ms.toFixed(2)} |`,
    );
    console.log(
      `| generation as the Worker timed it (server-timing model) | ${result.server_model_p50_ms.toFixed(2)} | ${result.server_model_p99_ms.toFixed(2)} |`,
    );
    console.log(`load average (1 min): ${result.load_average_1m.toFixed(2)}`);
    console.log(
      `requests/s on loopback at concurrency ${concurrency} (max_tokens 1): ${rps.toFixed(1)}`,
    );
  } finally {
    await worker.dispose();
    await built.cleanup();
  }
});
