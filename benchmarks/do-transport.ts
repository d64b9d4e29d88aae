/**
 * CLI: npm run bench:do-transport -- [--rounds 10] [--calls 500] [--json]
 *
 * The Durable Object call itself, fetch + JSON against JS RPC, side by side in one workerd (Miniflare): the
 * Worker in do-transport/worker.js sends an admission-sized message (the shape of the tenant limiter's keyed
 * admission) `--calls` times in a row over one transport, then the other, alternating for `--rounds`; the
 * figure is the mean round trip per call, median over rounds.
 */
import { cpus, loadavg } from 'node:os';
import { Miniflare } from 'miniflare';
import { intFlag, parseFlags, runMain } from '../backends/node/cli.ts';

const log = (line: string) => process.stderr.write(`bench-do-transport: ${line}\n`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

runMain('bench-do-transport', async () => {
  const { values } = parseFlags(
    process.argv.slice(2),
    { rounds: { type: 'string' }, calls: { type: 'string' }, json: { type: 'boolean' } },
    false,
  );
  const rounds = intFlag(values.rounds, 'rounds', 1) ?? 10;
  const calls = intFlag(values.calls, 'calls', 1) ?? 500;
  const mf = new Miniflare({
    modules: true,
    scriptPath: new URL('./do-transport/worker.js', import.meta.url).pathname,
    compatibilityDate: '2026-04-20',
    durableObjects: { LIMITER: { className: 'Limiter', useSQLite: true } },
  });
  try {
    const tenant = {
      id: 'tn_0123456789abcdef',
      name: 'bench',
      rpm: 1_000_000,
      tpm: 100_000_000,
      maxConcurrent: 1000,
      budgetTokens: null,
      budgetPeriod: null,
      models: null,
      maxTokens: null,
      degradeToEdge: false,
      createdAt: 1_700_000_000_000,
    };
    const message = JSON.stringify({
      tenantId: tenant.id,
      keyHash: 'f'.repeat(64),
      tenantSeen: JSON.stringify(tenant),
      reservedTokens: 9,
      leaseTtlMs: 600_000,
    });
    const run = async (transport: 'rpc' | 'fetch', n: number) => {
      const url = `http://bench/?transport=${transport}&n=${n}&message=${encodeURIComponent(message)}`;
      const res = await mf.dispatchFetch(url);
      return ((await res.json()) as { meanMs: number }).meanMs;
    };
    await run('rpc', 50);
    await run('fetch', 50);
    const rpc: number[] = [];
    const viaFetch: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first, so drift hits both equally.
      if (r % 2) {
        rpc.push(await run('rpc', calls));
        viaFetch.push(await run('fetch', calls));
      } else {
        viaFetch.push(await run('fetch', calls));
        rpc.push(await run('rpc', calls));
      }
      log(
        `round ${r + 1}/${rounds}: fetch ${viaFetch[r].toFixed(3)} ms, rpc ${rpc[r].toFixed(3)} ms`,
      );
    }
    const result = {
      machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, workerd via miniflare`,
      load_average_1m: loadavg()[0],
      calls_per_round: calls,
      rounds,
      fetch_json_ms: median(viaFetch),
      rpc_ms: median(rpc),
      rpc_over_fetch: median(rpc) / median(viaFetch),
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    console.log(
      `machine: ${result.machine}; load average (1 min) ${result.load_average_1m.toFixed(2)}`,
    );
    console.log('| Durable Object call | mean round trip ms (median of rounds) |\n|---|---|');
    console.log(`| stub.fetch + JSON | ${result.fetch_json_ms.toFixed(3)} |`);
    console.log(`| JS RPC (stub.admit) | ${result.rpc_ms.toFixed(3)} |`);
    console.log(`RPC / fetch: ${result.rpc_over_fetch.toFixed(2)}`);
  } finally {
    await mf.dispose();
  }
});
