/**
 * CLI: npm run bench:worker -- [--model <package-dir>] [--runs 5] [--cold-runs 5] [--cold-only] [--no-layouts] [--json]
 *      npm run bench:worker -- --package DIR [--package DIR ...] [--runs 5] [--prompts 4] [--json]
 *
 * With --package (repeatable): only those packages side by side in workerd, one fresh workerd each, timed in
 * interleaved rounds: ms per 32-token block forward and per answer, ratios to the fp32 package
 * (benchmarks/worker-packages.ts). Otherwise:
 * The edge Worker as deployed: bundle size (`wrangler deploy --dry-run`), then its cold start — the median of
 * --cold-runs fresh isolates serving the default model (assets/demo-model, or --model), first request end to
 * end, with its breakdown (benchmarks/worker-cold.ts) — then in workerd (Miniflare, model in R2) the cold first request (package fetch + ORT init + session create + generate) and the warm ms per forward,
 * next to ORT-node (1 intra-op thread) and ORT-web in Node on the same request. Then, unless --no-layouts, each
 * weight encoding of the 2-layer hidden-512 MoE bench model (fp32, fp16, int8 and int4 on int8 kernels or
 * dequantized to fp32 at load, int4 MatMulNBits) in a fresh workerd: load time, wasm heap after session create and
 * after generating, ms/forward.
 * Tables on stdout, progress on stderr.
 */
import { cpus, loadavg } from 'node:os';
import { generate, type DecodeStats } from '../src/decode/index.ts';
import { median } from './model/measure.ts';
import { DTYPE_VARIANTS, ensurePackage, moeScalingModel } from './model/packages.ts';
import { intFlag, parseFlags, runMain } from '../backends/node/cli.ts';
import { openModel } from '../backends/node/open-model.ts';
import {
  buildWorker,
  seedPackage,
  startWorker,
  type BuiltWorker,
} from '../backends/node/worker-harness.ts';
import { measureColdStart, type ColdStart } from './worker-cold.ts';
import { measurePackagesInWorkerd, packagesTable } from './worker-packages.ts';

const USAGE = `usage: bench-worker [--model <package-dir>] [--runs N (5)] [--cold-runs N (5)] [--cold-only] [--no-layouts] [--json]
       bench-worker --package DIR [--package DIR ...] [--runs N (5)] [--prompts N per task (4)] [--json]`;
/** The model a deployment serves by default (the committed demo model). */
const DEFAULT_MODEL = 'assets/demo-model';
/** Cloudflare Workers script size limits after compression (docs/workerd.md): Free 3 MiB, Paid 10 MiB. */
const PLAN_LIMITS_KIB = { free: 3 * 1024, paid: 10 * 1024 };
const LAYOUTS = ['fp32', 'fp16', 'int8', 'int8-float', 'int4', 'int4-float', 'int4-mnb'];
const MiB = 2 ** 20;
const log = (line: string) => process.stderr.write(`bench-worker: ${line}\n`);
const perForward = (s: Pick<DecodeStats, 'runnerMs' | 'forwards'>) => s.runnerMs / s.forwards;

/** A fixed prompt (16 ids below the special tokens) and a two-block request. */
function request(vocab: number) {
  const ids = Array.from({ length: 16 }, (_, i) => (i * 7919 + 13) % (vocab - 8));
  return {
    ids,
    body: { prompt_ids: ids, max_tokens: 64, block_length: 32, threshold: 0.95 },
    opts: { maxTokens: 64, blockLength: 32, threshold: 0.95 },
  };
}

interface WorkerRun {
  coldMs: number;
  load: { fetchMs: number; sessionMs: number; totalMs: number };
  heapAfterLoad: number | null;
  heapAfterRuns: number | null;
  /** The cold request's own runner time per forward (first executions of the wasm code included). */
  coldMsPerForward: number;
  msPerForward: number;
  forwards: number;
}

async function runInWorkerd(
  built: BuiltWorker,
  dir: string,
  vocab: number,
  runs: number,
): Promise<WorkerRun> {
  const worker = await startWorker(built);
  try {
    await seedPackage(worker, dir);
    const { body } = request(vocab);
    const t0 = performance.now();
    const first = await worker.post('/internal/generate', body);
    const coldMs = performance.now() - t0;
    if (first.status !== 200)
      throw new Error(`workerd: ${first.status} ${JSON.stringify(first.body)}`);
    const warm: number[] = [];
    let forwards = 0;
    for (let i = 0; i < runs; i++) {
      const r = await worker.post('/internal/generate', body);
      const stats = r.body.stats as DecodeStats;
      warm.push(perForward(stats));
      forwards = stats.forwards;
    }
    const health = (await worker.get('/health')).body;
    return {
      coldMs,
      forwards,
      msPerForward: median(warm),
      coldMsPerForward: perForward(first.body.stats as DecodeStats),
      load: health.load as WorkerRun['load'],
      heapAfterLoad: health.heapBytes as number | null,
      heapAfterRuns: health.heapNowBytes as number | null,
    };
  } finally {
    await worker.dispose();
  }
}

async function runInNode(
  dir: string,
  runtime: 'node' | 'wasm',
  runs: number,
): Promise<{ createMs: number; msPerForward: number }> {
  const model = await openModel(dir, { runtime, threads: runtime === 'node' ? 1 : undefined });
  try {
    const { ids, opts } = request(model.runner.info.vocabSize);
    await generate(model.runner, ids, opts);
    const samples: number[] = [];
    for (let i = 0; i < runs; i++)
      samples.push(perForward((await generate(model.runner, ids, opts)).stats));
    return { createMs: model.sessionMs, msPerForward: median(samples) };
  } finally {
    await model.session.release();
  }
}

/** The cold-start table and the bundle against the plan limits. */
function printCold(cold: ColdStart, upload: BuiltWorker['upload']): void {
  const m = cold.median;
  const ms = (x: number | null) => (x === null ? 'n/a' : x.toFixed(0));
  console.log(
    `Cold start (median of ${cold.runs.length} fresh isolates): ${ms(m.firstRequestMs)} ms (workerd CPU ${ms(m.firstRequestCpuMs)} ms; load average ${loadavg()[0].toFixed(1)})`,
  );
  console.log(
    '| first request | package fetch + verify (alongside ORT init) | of it after ORT init | ORT init | session create | load (end to end) | first forward | decode | rest (instantiate, app, routing, HTTP) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  console.log(
    `| ${ms(m.firstRequestMs)} | ${ms(m.packageFetchVerifyMs)} | ${ms(m.packageFetchWaitMs)} | ${ms(m.ortInitMs)} | ${ms(m.sessionCreateMs)} | ${ms(m.loadTotalMs)} | ${m.firstForwardMs.toFixed(1)} | ${ms(m.decodeMs)} | ${ms(m.restMs)} |`,
  );
  console.log(
    `(workerd process start, not part of a Cloudflare cold start: ${ms(m.processStartMs)} ms)`,
  );
  console.log(
    `Bundle (wrangler deploy --dry-run): Total Upload ${upload?.kib} KiB / gzip ${upload?.gzipKiB} KiB; Workers limits after compression: Free ${PLAN_LIMITS_KIB.free} KiB, Paid ${PLAN_LIMITS_KIB.paid} KiB`,
  );
}

/** CPU, cores and the 1-minute load average (the bench machine is shared). */
function machineLine(): string {
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, load average ${loadavg()[0].toFixed(1)}, Node ${process.version}`;
}

const mib = (b: number | null) => (b === null ? 'n/a' : `${(b / MiB).toFixed(1)}`);

runMain('bench-worker', async () => {
  const { values: v } = parseFlags(
    process.argv.slice(2),
    {
      model: { type: 'string' },
      package: { type: 'string', multiple: true },
      prompts: { type: 'string' },
      runs: { type: 'string' },
      'cold-runs': { type: 'string' },
      'cold-only': { type: 'boolean' },
      'no-layouts': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    false,
  );
  if (v.help) {
    console.log(USAGE);
    return;
  }
  const runs = intFlag(v.runs, 'runs', 1) ?? 5;
  const coldRuns = intFlag(v['cold-runs'], 'cold-runs', 1) ?? 5;
  const dir = v.model ?? DEFAULT_MODEL;

  log('building the Worker (wrangler deploy --dry-run)');
  const built = await buildWorker();
  try {
    if (v.package?.length) {
      const loadStart = loadavg()[0];
      const rows = await measurePackagesInWorkerd(built, v.package, {
        rounds: runs,
        warmup: 1,
        promptsPerTask: intFlag(v.prompts, 'prompts', 1) ?? 4,
        log,
      });
      const machine = `${machineLine()} (${loadStart.toFixed(1)} at start)`;
      if (v.json) console.log(JSON.stringify({ machine, rounds: runs, packages: rows }));
      else {
        console.log(`machine: ${machine}`);
        console.log(
          `workerd (ORT-web wasm, 1 thread), one fresh workerd per package, ${runs} interleaved rounds; median (min). Forward: one 32-token block decoded one token per forward after a 16-id prompt (client wall ÷ forwards; runner: the Worker's own clock). Answer: ${2 * (intFlag(v.prompts, 'prompts', 1) ?? 4)} held-out sort/add prompts through the chat template, max_tokens 16, threshold 0.9.`,
        );
        console.log(packagesTable(rows));
      }
      return;
    }
    const vocab = (await openModel(dir, { runtime: 'node' })).runner.info.vocabSize;
    log(`cold start: ${coldRuns} fresh isolates serving ${dir}`);
    const cold = await measureColdStart(built, dir, vocab, coldRuns, log);
    const bundle = {
      upload: built.upload,
      files: built.sizes,
      planLimitsGzipKiB: PLAN_LIMITS_KIB,
    };
    if (v['cold-only']) {
      const report = {
        cold_start_ms: cold.median.firstRequestMs,
        cold_start_cpu_ms: cold.median.firstRequestCpuMs,
        cold_start: cold,
        bundle,
        model: dir,
        machine: machineLine(),
      };
      if (v.json) console.log(JSON.stringify(report));
      else {
        console.log(`machine: ${machineLine()}`);
        printCold(cold, bundle.upload);
      }
      return;
    }
    log(`workerd: ${dir}`);
    const workerd = await runInWorkerd(built, dir, vocab, runs);
    log('ORT-node and ORT-web (Node)');
    const node = await runInNode(dir, 'node', runs);
    const nodeWasm = await runInNode(dir, 'wasm', runs);

    const layouts: (WorkerRun & { layout: string; packageMiB: number })[] = [];
    if (!v['no-layouts']) {
      const spec = moeScalingModel(16, 2);
      for (const label of LAYOUTS) {
        const variant = DTYPE_VARIANTS.find((d) => d.label === label)!;
        const pkg = await ensurePackage(spec, variant, { log });
        log(`workerd: ${spec.name} ${label} (${(pkg.bytes / MiB).toFixed(1)} MiB)`);
        layouts.push({
          layout: label,
          packageMiB: pkg.bytes / MiB,
          ...(await runInWorkerd(
            built,
            pkg.dir,
            pkg.manifest.tokens.vocab_size,
            Math.min(runs, 3),
          )),
        });
      }
    }

    const report = {
      cold_start_ms: cold.median.firstRequestMs,
      cold_start_cpu_ms: cold.median.firstRequestCpuMs,
      cold_start: cold,
      bundle,
      model: dir,
      machine: machineLine(),
      workerd,
      node,
      nodeWasm,
      layouts,
    };
    if (v.json) {
      console.log(JSON.stringify(report));
      return;
    }
    const kib = (b: number) => (b / 1024).toFixed(0);
    printCold(cold, built.upload);
    for (const s of built.sizes)
      console.log(
        `  ${s.file.replace(/^[0-9a-f]{40}-/, '')}: ${kib(s.bytes)} KiB raw / ${kib(s.gzipBytes)} KiB gzip -9`,
      );
    console.log(
      `\nModel ${dir}; request: 16 prompt ids, max_tokens 64, block_length 32, threshold 0.95; ${runs} warm runs (median)`,
    );
    console.log(
      '| runtime | cold first request ms | load: fetch / session ms | ms per forward, cold request | ms per forward (warm) |',
    );
    console.log('|---|---|---|---|---|');
    console.log(
      `| workerd (ORT-web wasm, 1 thread) | ${workerd.coldMs.toFixed(0)} | ${workerd.load.fetchMs.toFixed(0)} / ${workerd.load.sessionMs.toFixed(0)} | ${workerd.coldMsPerForward.toFixed(2)} | ${workerd.msPerForward.toFixed(2)} |`,
    );
    console.log(
      `| Node ORT-web wasm (1 thread) | – | – / ${nodeWasm.createMs.toFixed(0)} | – | ${nodeWasm.msPerForward.toFixed(2)} |`,
    );
    console.log(
      `| Node ORT-node CPU (1 thread) | – | – / ${node.createMs.toFixed(0)} | – | ${node.msPerForward.toFixed(2)} |`,
    );
    console.log(
      `workerd wasm heap: ${mib(workerd.heapAfterLoad)} MiB after session create, ${mib(workerd.heapAfterRuns)} MiB after the runs`,
    );
    if (layouts.length) {
      console.log(
        '\nWeight layouts in workerd (fresh isolate each; 2 layers, hidden 512, 16 experts top-2, vocab 4096)',
      );
      console.log(
        '| layout | package MiB | cold request ms | load: fetch / session ms | heap after create MiB | heap after runs MiB | ms/forward cold request | ms/forward warm |',
      );
      console.log('|---|---|---|---|---|---|---|---|');
      for (const l of layouts) {
        console.log(
          `| ${l.layout} | ${l.packageMiB.toFixed(1)} | ${l.coldMs.toFixed(0)} | ${l.load.fetchMs.toFixed(0)} / ${l.load.sessionMs.toFixed(0)} | ${mib(l.heapAfterLoad)} | ${mib(l.heapAfterRuns)} | ${l.coldMsPerForward.toFixed(2)} | ${l.msPerForward.toFixed(2)} |`,
        );
      }
    }
  } finally {
    await built.cleanup();
  }
});
