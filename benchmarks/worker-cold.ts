/**
 * The Worker's cold start, for `npm run bench:worker`: N fresh workerd processes (fresh isolate, fresh wasm heap,
 * nothing cached), each seeded with the served model in R2, then ONE first request end to end — a chat-free
 * POST /internal/generate of one block — timed from the client. The Worker's own load timings (package fetch +
 * verify, ORT init, session create) and the request's first forward come back in /health and the decode stats;
 * what is left (module instantiate, app build, routing) is reported as `restMs`.
 */
import type { DecodeStats } from '../src/decode/index.ts';
import { seedPackage, startWorker, type BuiltWorker } from '../backends/node/worker-harness.ts';
import { median } from './model/measure.ts';
import { childPids, processCpuMs } from './process-cpu.ts';

export interface ColdRun {
  /** Client-side: the first request, sent to a fresh isolate, until its whole answer arrived. */
  firstRequestMs: number;
  /**
   * CPU time workerd (all its threads) spent on the first request; null without Linux /proc. On a shared machine
   * the wall time stretches with the load average, this much less.
   */
  firstRequestCpuMs: number | null;
  /** Miniflare/workerd process start (not part of a Cloudflare cold start: the runtime is already up there). */
  processStartMs: number;
  /**
   * Until the package was fetched and verified. It runs alongside ORT init on the isolate's one thread, so this
   * includes ORT init's CPU time whenever the fetch's I/O finished first (the fetch alone is ~30 ms here).
   */
  packageFetchVerifyMs: number;
  /** What the fetch added after ORT init was done: its share of the critical path; null if not reported. */
  packageFetchWaitMs: number | null;
  /** ORT-web initialisation (wasm instantiate + runtime init); null when the Worker does not report it apart. */
  ortInitMs: number | null;
  sessionCreateMs: number;
  /** Load phases end to end (they may overlap, so this can be less than their sum). */
  loadTotalMs: number;
  /** The first runner.forward of the first request (first executions of the wasm kernels included). */
  firstForwardMs: number;
  /** The whole decode of the first request (its first forward included). */
  decodeMs: number;
  /** Everything else: module instantiate, app build, routing and validation, loopback HTTP. */
  restMs: number;
}

export interface ColdStart {
  runs: ColdRun[];
  /** Medians over the runs, field by field. */
  median: ColdRun;
}

interface LoadTimings {
  fetchMs: number;
  fetchWaitMs?: number;
  ortMs?: number;
  sessionMs: number;
  totalMs: number;
}

/** One block (max_tokens 32, one forward per step) so the first forward is a clear share of the request. */
const body = (vocab: number) => ({
  prompt_ids: Array.from({ length: 16 }, (_, i) => (i * 7919 + 13) % (vocab - 8)),
  max_tokens: 32,
  block_length: 32,
  threshold: 0.95,
});

async function coldRun(built: BuiltWorker, dir: string, vocab: number): Promise<ColdRun> {
  const t0 = performance.now();
  const worker = await startWorker(built, { edgeModel: 'demo' });
  const processStartMs = performance.now() - t0;
  try {
    await seedPackage(worker, dir);
    // The one workerd child this process has now (runs are sequential, the previous one is disposed).
    const [pid] = childPids('workerd');
    const cpu0 = pid === undefined ? null : processCpuMs(pid);
    const t1 = performance.now();
    const first = await worker.post('/internal/generate', body(vocab));
    const firstRequestMs = performance.now() - t1;
    const cpu1 = pid === undefined ? null : processCpuMs(pid);
    if (first.status !== 200)
      throw new Error(`cold request: ${first.status} ${JSON.stringify(first.body)}`);
    const stats = first.body.stats as DecodeStats;
    const load = (await worker.get('/health')).body.load as LoadTimings;
    // The cached decode's first forward is the prompt prefill; without one, the request's mean forward.
    const firstForwardMs =
      stats.prefillForwards === 1 ? stats.prefillMs : stats.runnerMs / stats.forwards;
    return {
      firstRequestMs,
      firstRequestCpuMs: cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null,
      processStartMs,
      packageFetchVerifyMs: load.fetchMs,
      packageFetchWaitMs: load.fetchWaitMs ?? null,
      ortInitMs: load.ortMs ?? null,
      sessionCreateMs: load.sessionMs,
      loadTotalMs: load.totalMs,
      firstForwardMs,
      decodeMs: stats.totalMs,
      restMs: firstRequestMs - load.totalMs - stats.totalMs,
    };
  } finally {
    await worker.dispose();
  }
}

/** `runs` fresh isolates, one after another (never in parallel: they would share the CPU). */
export async function measureColdStart(
  built: BuiltWorker,
  dir: string,
  vocab: number,
  runs: number,
  log: (line: string) => void,
): Promise<ColdStart> {
  const all: ColdRun[] = [];
  for (let i = 0; i < runs; i++) {
    const run = await coldRun(built, dir, vocab);
    log(
      `cold start ${i + 1}/${runs}: ${run.firstRequestMs.toFixed(0)} ms (load ${run.loadTotalMs.toFixed(0)} ms, workerd CPU ${run.firstRequestCpuMs ?? 'n/a'} ms)`,
    );
    all.push(run);
  }
  const med = (pick: (r: ColdRun) => number | null) => {
    const values = all.map(pick).filter((v): v is number => v !== null);
    return values.length ? median(values) : null;
  };
  return {
    runs: all,
    median: {
      firstRequestMs: med((r) => r.firstRequestMs)!,
      firstRequestCpuMs: med((r) => r.firstRequestCpuMs),
      processStartMs: med((r) => r.processStartMs)!,
      packageFetchVerifyMs: med((r) => r.packageFetchVerifyMs)!,
      packageFetchWaitMs: med((r) => r.packageFetchWaitMs),
      ortInitMs: med((r) => r.ortInitMs),
      sessionCreateMs: med((r) => r.sessionCreateMs)!,
      loadTotalMs: med((r) => r.loadTotalMs)!,
      firstForwardMs: med((r) => r.firstForwardMs)!,
      decodeMs: med((r) => r.decodeMs)!,
      restMs: med((r) => r.restMs)!,
    },
  };
}
