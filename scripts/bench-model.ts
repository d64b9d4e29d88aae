/**
 * CLI: npm run bench:model -- [--runs 10] [--warmup 2] [--threads 1] [--quick] [--rebuild] [--json]
 *
 * Per model (tiny default; bench-size random MoE) × weights (fp32, fp16, int8, int4 DQ, int4 MatMulNBits; sparse
 * MoE kernels): package size, max|Δlogits| vs the fp32 package (ORT-node), session create time and the median
 * forward time of one 32-token block (prefill, top-k + present fetched) on ORT-node (intraOpNumThreads pinned) and
 * ORT-web WASM (1 thread, a fresh child process per package, which also reports the WASM heap).
 * Then MoE scaling: fp32, experts ∈ {16, 64, 256} × top-k ∈ {2, 8}, sparse (ORT MoE kernel) vs dense, on ORT-node.
 * Packages are built under models/bench-model/ and reused (--rebuild forces). Tables on stdout, progress on stderr.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { intFlag, parseFlags, runMain } from './lib/cli.ts';
import { openLocalModel } from './lib/local-package.ts';
import {
  BENCH_MODEL, DTYPE_VARIANTS, MOE_VARIANTS, TINY_MODEL, ensurePackage, moeScalingModel, type ModelSpec,
} from './bench/model-packages.ts';
import {
  BLOCK, MiB, argmaxAgreement, benchInput, machineInfo, machineLine, maxAbsDiff, timeForwards,
} from './bench/model-measure.ts';
import { dtypeTable, moeTable, type BenchReport, type BenchSettings, type DtypeRow, type MoeRow } from './bench/model-report.ts';
import type { WasmChildResult } from './bench/model-wasm-child.ts';

const USAGE = 'usage: bench-model [--runs N (10)] [--warmup N (2)] [--threads N (1)] [--quick] [--rebuild] [--json]';
const WASM_CHILD = fileURLToPath(new URL('./bench/model-wasm-child.ts', import.meta.url));

const log = (line: string) => process.stderr.write(`bench-model: ${line}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

runMain('bench-model', async () => {
  const started = performance.now();
  const { values } = parseFlags(process.argv.slice(2), {
    runs: { type: 'string' }, warmup: { type: 'string' }, threads: { type: 'string' },
    quick: { type: 'boolean' }, rebuild: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' },
  }, false);
  if (values.help) { console.log(USAGE); return; }
  const quick = values.quick ?? false;
  const settings: BenchSettings = {
    quick,
    warmup: intFlag(values.warmup, 'warmup', 0) ?? 2,
    runs: intFlag(values.runs, 'runs', 1) ?? (quick ? 3 : 10),
    threads: intFlag(values.threads, 'threads', 1) ?? 1,
    block: BLOCK,
  };
  const build = { rebuild: values.rebuild ?? false, log };
  const models = quick ? [TINY_MODEL] : [TINY_MODEL, BENCH_MODEL];
  const scaling = quick
    ? [moeScalingModel(16, 2), moeScalingModel(64, 2)]
    : [2, 8].flatMap((k) => [16, 64, 256].map((e) => moeScalingModel(e, k)));

  const ortNode = ((await import('onnxruntime-node')) as unknown as { env: { versions: Record<string, string> } }).env.versions.node ?? 'unknown';
  let ortWeb = 'unknown';

  const rows: DtypeRow[] = [];
  for (const spec of models) {
    let reference: Float32Array | undefined;
    for (const variant of DTYPE_VARIANTS) {
      const what = `${spec.name} ${variant.label}`;
      const pkg = await ensurePackage(spec, variant, build);
      if (pkg.builtMs !== null) log(`${what}: built in ${secs(pkg.builtMs)}`);

      const node = await openLocalModel(pkg.dir, { runtime: 'node', threads: settings.threads });
      const vocab = node.runner.info.vocabSize;
      const check = await node.runner.forward(benchInput(vocab, true));
      const logits = check.logits!;
      reference ??= logits;
      const nodeForward = await timeForwards(node.runner, settings.warmup, settings.runs);
      await node.session.release();
      log(`${what}: node create ${secs(node.loadMs)}, forward ${nodeForward.medianMs.toFixed(1)} ms`);

      const wasm = await runWasmChild(pkg.dir, settings);
      ortWeb = wasm.ortWeb;
      const toMiB = (b: number | null) => (b === null ? null : b / MiB);
      log(`${what}: wasm create ${secs(wasm.createMs)}, forward ${wasm.forward.medianMs.toFixed(1)} ms, heap ${toMiB(wasm.heap.afterCreate)?.toFixed(1) ?? '?'} MiB`);
      rows.push({
        model: spec.name, variant: variant.label, dtype: variant.dtype, int4Layout: variant.int4Layout ?? null, moe: pkg.manifest.moe.implementation,
        packageBytes: pkg.bytes, packageMiB: pkg.bytes / MiB,
        maxAbsDeltaLogits: maxAbsDiff(logits, reference), top1AgreeWithFp32: argmaxAgreement(logits, reference, vocab),
        node: { createMs: node.loadMs, forward: nodeForward },
        wasm: {
          createMs: wasm.createMs, forward: wasm.forward,
          heapMiB: { initial: toMiB(wasm.heap.initial), afterInit: toMiB(wasm.heap.afterInit), afterCreate: toMiB(wasm.heap.afterCreate), afterForwards: toMiB(wasm.heap.afterForwards) },
          maxAbsDeltaTopkVsNode: maxAbsDiff(Float32Array.from(wasm.topk.logits), check.topk.logits),
          top1AgreeWithNode: top1Agreement(wasm.topk.ids, check.topk.ids, wasm.topk.k),
        },
      });
    }
  }

  const moeRows: MoeRow[] = [];
  for (const spec of scaling) {
    for (const variant of MOE_VARIANTS) {
      const pkg = await ensurePackage(spec, variant, build);
      if (pkg.builtMs !== null) log(`${spec.name} ${variant.label}: built in ${secs(pkg.builtMs)}`);
      const node = await openLocalModel(pkg.dir, { runtime: 'node', threads: settings.threads });
      const forward = await timeForwards(node.runner, settings.warmup, settings.runs);
      await node.session.release();
      const { experts = 0, expertsPerTok = 0 } = spec.shape;
      log(`${spec.name} ${pkg.manifest.moe.implementation}: create ${secs(node.loadMs)}, forward ${forward.medianMs.toFixed(1)} ms`);
      moeRows.push({
        model: spec.name, experts, topk: expertsPerTok, implementation: pkg.manifest.moe.implementation,
        packageMiB: pkg.bytes / MiB, createMs: node.loadMs, forward,
      });
    }
  }

  const report: BenchReport = { machine: machineInfo(ortNode, ortWeb), settings, rows, moeScaling: moeRows, totalMs: performance.now() - started };
  if (values.json) { process.stdout.write(`${JSON.stringify(report)}\n`); return; }
  console.log(machineLine(report.machine));
  console.log(`ORT-node intraOpNumThreads=${settings.threads}; ORT-web wasm 1 thread (fresh process per package). `
    + `Forward = one ${BLOCK}-token block (batch 1, block-causal, no past, top-k + present fetched): ${settings.warmup} warm-up, median of ${settings.runs}.`);
  console.log('max|Δlogits| and top1=fp32: ORT-node full logits vs the fp32 package. wasm vs node Δtopk: same package, top-k logits.');
  console.log('wasm heap: WebAssembly.Memory size after session create / after the timed forwards (fresh process, includes ORT\'s own baseline).\n');
  for (const spec of models) console.log(`${spec.name}: ${spec.description}`);
  console.log(`\n${dtypeTable(rows)}\n`);
  console.log(`MoE scaling (ORT-node, fp32, ${describeScaling(scaling[0])}; median forward ms of one ${BLOCK}-token block):`);
  console.log(`${moeTable(moeRows)}\n`);
  console.log(`total ${secs(report.totalMs)}`);
});

function describeScaling(spec: ModelSpec): string {
  const s = spec.shape;
  return `${s.layers} layers (${s.denseLayers} dense), hidden ${s.hidden}, moe_intermediate ${s.moeIntermediate}, ${s.groups} groups top ${s.topkGroup}, ${s.sharedExperts} shared, vocab ${s.vocab}`;
}

function top1Agreement(a: ArrayLike<number>, b: ArrayLike<number>, k: number): number {
  const rows = a.length / k;
  let same = 0;
  for (let r = 0; r < rows; r++) if (a[r * k] === b[r * k]) same++;
  return same / rows;
}

/** Runs the WASM side of one package in a fresh process (same tsx loader flags as this one). */
function runWasmChild(dir: string, s: BenchSettings): Promise<WasmChildResult> {
  const args = [...process.execArgv, WASM_CHILD, '--dir', dir, '--warmup', String(s.warmup), '--runs', String(s.runs)];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 64 * MiB }, (err, stdout, stderr) => {
      if (err) {
        const reason = stderr.trim().split('\n').filter(Boolean).pop() ?? err.message;
        reject(new Error(`ORT-web child failed for ${dir}: ${reason}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as WasmChildResult);
      } catch {
        reject(new Error(`ORT-web child for ${dir} printed no result`));
      }
    });
  });
}
