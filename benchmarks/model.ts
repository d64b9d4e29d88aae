/**
 * CLI: npm run bench:model -- [--runs 10] [--warmup 2] [--threads 1] [--models tiny,bench,chatllm] [--quick]
 *      [--variants fp32,int8,...] [--no-scaling] [--rebuild] [--json]
 *      npm run bench:model -- --package DIR [--package DIR ...] [--runs 10] [--warmup 2] [--threads 1] [--json]
 *
 * --package (repeatable): existing packages (e.g. one trained checkpoint's fp32/int8/int4 exports) instead of the
 * random models, measured the same way side by side (ratios to the fp32 one); no MoE scaling.
 *
 * Per model (tiny default; bench-size random MoE) × weights (fp32, fp16, int8, int4 DQ, int4 MatMulNBits; sparse
 * MoE kernels): package size, max|Δlogits| vs the fp32 package (ORT-node), session create time and the median
 * forward time of one 32-token block (prefill, top-k + present fetched) on ORT-node (intraOpNumThreads pinned; all
 * variants of a model open at once and timed in interleaved rounds, so machine load hits them alike) and ORT-web
 * WASM (1 thread, one child process per package, which also reports its WASM heap, all alive and likewise timed in
 * interleaved rounds).
 * Then MoE scaling: fp32, experts ∈ {16, 64, 256} × top-k ∈ {2, 8}, sparse (ORT MoE kernel) vs dense, on ORT-node,
 * interleaved per top-k. --quick: tiny model only, experts {16, 64} at top-2, 3 runs.
 * Packages are built under models/bench-model/ and reused (--rebuild forces). Tables on stdout, progress on stderr.
 */
import { intFlag, namedItems, parseFlags, runMain } from '../backends/node/cli.ts';
import { openModel } from '../backends/node/open-model.ts';
import {
  DTYPE_VARIANTS,
  MODELS,
  MOE_VARIANTS,
  TINY_MODEL,
  ensurePackage,
  moeScalingModel,
  totalBytes,
  type BuiltPackage,
  type ModelSpec,
} from './model/packages.ts';
import { basename } from 'node:path';
import { readLocalManifest } from '../backends/node/stores/disk-package.ts';
import {
  BLOCK,
  MiB,
  argmaxAgreement,
  benchInput,
  interleaveTimed,
  loadAvg1,
  machineInfo,
  machineLine,
  maxAbsDiff,
  timeInterleaved,
} from './model/measure.ts';
import {
  dtypeTable,
  moeTable,
  type BenchReport,
  type BenchSettings,
  type DtypeRow,
  type MoeRow,
} from './model/report.ts';
import { serveWasmChild } from './model/run-wasm-child.ts';

const USAGE = `usage: bench-model [--runs N (10)] [--warmup N (2)] [--threads N (1)] [--models tiny,bench,chatllm] [--quick]
         [--variants ${DTYPE_VARIANTS.map((d) => d.label).join(',')}] [--no-scaling] [--rebuild] [--json]
       bench-model --package DIR [--package DIR ...] [--runs N] [--warmup N] [--threads N] [--json]`;

const log = (line: string) => process.stderr.write(`bench-model: ${line}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

runMain('bench-model', async () => {
  const started = performance.now();
  const loadAvgStart = loadAvg1();
  const { values } = parseFlags(
    process.argv.slice(2),
    {
      runs: { type: 'string' },
      warmup: { type: 'string' },
      threads: { type: 'string' },
      quick: { type: 'boolean' },
      models: { type: 'string' },
      variants: { type: 'string' },
      package: { type: 'string', multiple: true },
      'no-scaling': { type: 'boolean' },
      rebuild: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    false,
  );
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const quick = values.quick ?? false;
  const settings: BenchSettings = {
    quick,
    warmup: intFlag(values.warmup, 'warmup', 0) ?? 2,
    runs: intFlag(values.runs, 'runs', 1) ?? (quick ? 3 : 10),
    threads: intFlag(values.threads, 'threads', 1) ?? 1,
    block: BLOCK,
  };
  const build = { rebuild: values.rebuild ?? false, log };
  const models =
    values.models === undefined
      ? quick
        ? [TINY_MODEL]
        : [...MODELS]
      : namedItems(values.models, 'models', 'model', MODELS, (m) => m.name);
  const variants =
    values.variants === undefined
      ? DTYPE_VARIANTS
      : namedItems(values.variants, 'variants', 'variant', DTYPE_VARIANTS, (d) => d.label);
  const given = values.package ?? [];
  const scaling =
    given.length || values['no-scaling']
      ? []
      : quick
        ? [moeScalingModel(16, 2), moeScalingModel(64, 2)]
        : [2, 8].flatMap((k) => [16, 64, 256].map((e) => moeScalingModel(e, k)));
  // Groups of packages measured side by side: each random model's variants, or the --package dirs.
  const groups: { name: string; packages: BenchPackage[] }[] = [];
  if (given.length)
    groups.push({ name: 'packages', packages: await Promise.all(given.map(givenPackage)) });
  else
    for (const spec of models) {
      const packages: BenchPackage[] = [];
      for (const variant of variants) {
        const pkg = await ensurePackage(spec, variant, build);
        if (pkg.builtMs !== null)
          log(`${spec.name} ${variant.label}: built in ${secs(pkg.builtMs)}`);
        packages.push({ ...pkg, label: variant.label });
      }
      groups.push({ name: spec.name, packages });
    }

  const ortNode =
    ((await import('onnxruntime-node')) as unknown as { env: { versions: Record<string, string> } })
      .env.versions.node ?? 'unknown';
  let ortWeb = 'unknown';

  const rows: DtypeRow[] = [];
  for (const group of groups) {
    // ORT-node: every weights variant open at once, timed in interleaved rounds (same machine load for all).
    const packages = [];
    const nodes = [];
    const checks = [];
    for (const pkg of group.packages) {
      const node = await openModel(pkg.dir, { runtime: 'node', threads: settings.threads });
      log(`${group.name} ${pkg.label}: node session created in ${secs(node.sessionMs)}`);
      packages.push(pkg);
      nodes.push(node);
      checks.push(await node.runner.forward(benchInput(node.runner.info.vocabSize, true)));
    }
    log(`${group.name}: timing ${nodes.length} node sessions, ${settings.runs} interleaved rounds`);
    const nodeTimes = await timeInterleaved(
      nodes.map((n) => n.runner),
      settings.warmup,
      settings.runs,
    );
    for (const n of nodes) await n.session.release();
    const reference = checks[0].logits!;

    // ORT-web: one process per package (a fresh heap each), all alive, timed in interleaved rounds.
    const children = [];
    for (const [i, variant] of group.packages.entries()) {
      const child = await serveWasmChild(packages[i].dir);
      log(`${group.name} ${variant.label}: wasm session created in ${secs(child.ready.createMs)}`);
      children.push(child);
    }
    log(
      `${group.name}: timing ${children.length} wasm processes, ${settings.runs} interleaved rounds`,
    );
    const wasmTimes = await interleaveTimed(
      children.map((c) => () => c.forward()),
      settings.warmup,
      settings.runs,
    );
    const heapAfter = [];
    for (const c of children) heapAfter.push(await c.finish());
    for (const [i, variant] of group.packages.entries()) {
      const pkg = packages[i];
      const check = checks[i];
      const vocab = nodes[i].runner.info.vocabSize;
      const wasm = { ...children[i].ready, forward: wasmTimes[i] };
      ortWeb = wasm.ortWeb;
      const toMiB = (b: number | null) => (b === null ? null : b / MiB);
      log(
        `${group.name} ${variant.label}: node ${nodeTimes[i].medianMs.toFixed(1)} ms; wasm create ${secs(wasm.createMs)}, forward ${wasm.forward.medianMs.toFixed(1)} ms, heap ${toMiB(wasm.heap.afterCreate)?.toFixed(1) ?? '?'} MiB`,
      );
      rows.push({
        model: group.name,
        variant: variant.label,
        dtype: pkg.manifest.quantization.dtype,
        int4Layout: pkg.manifest.quantization.int4_layout ?? null,
        moe: pkg.manifest.moe.implementation,
        packageBytes: pkg.bytes,
        packageMiB: pkg.bytes / MiB,
        maxAbsDeltaLogits: maxAbsDiff(check.logits!, reference),
        top1AgreeWithFp32: argmaxAgreement(check.logits!, reference, vocab),
        node: { createMs: nodes[i].sessionMs, forward: nodeTimes[i] },
        wasm: {
          createMs: wasm.createMs,
          forward: wasm.forward,
          heapMiB: {
            initial: toMiB(wasm.heap.initial),
            afterInit: toMiB(wasm.heap.afterInit),
            afterCreate: toMiB(wasm.heap.afterCreate),
            afterForwards: toMiB(heapAfter[i]),
          },
          maxAbsDeltaTopkVsNode: maxAbsDiff(Float32Array.from(wasm.topk.logits), check.topk.logits),
          top1AgreeWithNode: top1Agreement(wasm.topk.ids, check.topk.ids, wasm.topk.k),
        },
      });
    }
  }

  // MoE scaling: per top-k, every (experts, implementation) session open at once and timed in interleaved rounds.
  const moeRows: MoeRow[] = [];
  for (const k of [...new Set(scaling.map((s) => s.shape.expertsPerTok ?? 0))]) {
    const opened = [];
    for (const spec of scaling.filter((s) => s.shape.expertsPerTok === k)) {
      for (const variant of MOE_VARIANTS) {
        const pkg = await ensurePackage(spec, variant, build);
        if (pkg.builtMs !== null)
          log(`${spec.name} ${variant.label}: built in ${secs(pkg.builtMs)}`);
        const node = await openModel(pkg.dir, { runtime: 'node', threads: settings.threads });
        log(
          `${spec.name} ${pkg.manifest.moe.implementation}: node session created in ${secs(node.sessionMs)}`,
        );
        opened.push({ spec, pkg, node });
      }
    }
    log(`MoE top-${k}: timing ${opened.length} node sessions, ${settings.runs} interleaved rounds`);
    const times = await timeInterleaved(
      opened.map((o) => o.node.runner),
      settings.warmup,
      settings.runs,
    );
    for (const [i, { spec, pkg, node }] of opened.entries()) {
      await node.session.release();
      log(
        `${spec.name} ${pkg.manifest.moe.implementation}: forward ${times[i].medianMs.toFixed(1)} ms (min ${times[i].minMs.toFixed(1)})`,
      );
      moeRows.push({
        model: spec.name,
        experts: spec.shape.experts ?? 0,
        topk: k,
        implementation: pkg.manifest.moe.implementation,
        packageMiB: pkg.bytes / MiB,
        createMs: node.sessionMs,
        forward: times[i],
      });
    }
  }

  const report: BenchReport = {
    machine: machineInfo(ortNode, ortWeb, loadAvgStart),
    settings,
    rows,
    moeScaling: moeRows,
    totalMs: performance.now() - started,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  console.log(machineLine(report.machine));
  console.log(
    `ORT-node intraOpNumThreads=${settings.threads}, a model's variants timed in interleaved rounds; ORT-web wasm 1 thread, one process per package; both timed in interleaved rounds.`,
  );
  console.log(
    `Forward = one ${BLOCK}-token block (batch 1, block-causal, no past, top-k + present fetched): ${settings.warmup} warm-up, then median (min) of ${settings.runs}.`,
  );
  console.log(
    'max|Δlogits| and top1=fp32: ORT-node full logits vs the fp32 package. wasm vs node Δtopk: same package, top-k logits.',
  );
  console.log(
    "wasm heap: WebAssembly.Memory size after session create / after the timed forwards (fresh process, includes ORT's own baseline).\n",
  );
  if (given.length) for (const dir of given) console.log(`package: ${dir}`);
  else for (const spec of models) console.log(`${spec.name}: ${spec.description}`);
  console.log(`\n${dtypeTable(rows)}\n`);
  if (!moeRows.length) {
    console.log(`total ${secs(report.totalMs)}`);
    return;
  }
  console.log(
    `MoE scaling (ORT-node, fp32, ${describeScaling(scaling[0])}; one ${BLOCK}-token block, sessions of one top-k interleaved):`,
  );
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

/** One package to measure: built by ensurePackage or given with --package (labelled by its directory name). */
type BenchPackage = BuiltPackage & { label: string };

async function givenPackage(dir: string): Promise<BenchPackage> {
  const manifest = await readLocalManifest(dir);
  return { dir, manifest, bytes: totalBytes(manifest), builtMs: null, label: basename(dir) };
}
