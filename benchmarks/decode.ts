/**
 * CLI: npm run bench:decode -- [--gen 128,256,512] [--quick] [--models tiny,bench,vocab157k] [--threshold 0.95]
 *      [--threads 1] [--prompt-tokens 20] [--repeat 1] [--json]
 *
 * Reference vs cached decode on random LLaDA2 packages (built once under models/), same process, same runtime
 * (onnxruntime-node CPU, intra-op threads pinned), greedy, block 32, steps 32, a fixed 20-token prompt. Each mode
 * runs one warm-up generation per model first; every measured pair must produce identical tokens. With --repeat N
 * each measurement is the fastest of N runs (a shared machine's noise only ever adds time). Progress goes
 * to stderr; stdout gets a table, or with --json one object. Its targets are reported, not asserted: the
 * exit status is non-zero only for a failure (a token mismatch included).
 */
import { cpus, platform, release, arch } from 'node:os';
import { createRequire } from 'node:module';
import {
  generate,
  type BlockRunner,
  type DecodeMode,
  type DecodeResult,
  type KvState,
} from '../src/decode/index.ts';
import {
  BENCH,
  BENCH_MODELS,
  REAL_VOCAB,
  TINY,
  ensureBenchPackage,
  type BenchModelSpec,
} from './model/models.ts';
import {
  floatFlag,
  intFlag,
  namedItems,
  parseFlags,
  runMain,
  UsageError,
} from '../backends/node/cli.ts';
import { openModel, type OpenedModel } from '../backends/node/open-model.ts';

const USAGE =
  'usage: bench-decode [--gen 128,256,512] [--quick] [--models tiny,bench,vocab157k] [--threshold 0.95] [--threads 1] [--prompt-tokens 20] [--repeat 1] [--json]';

const BLOCK = 32;
const STEPS = 32;
const PROMPT_LENGTH = 20;
const WARMUP_MAX_GEN = 128;
const DEFAULT_GENS = [128, 256, 512];
const QUICK_GENS = [64];
const QUICK_MODELS = [TINY, REAL_VOCAB];

/** The targets (reported, never asserted). */
const GOALS = { speedupAt512: 10, nfeSlack: 1, loopOverheadPct: 5 } as const;

interface ModeRun {
  wall_ms: number;
  /** Process CPU time (user + system, all threads) during the call: robust to other load on a shared machine. */
  cpu_ms: number;
  nfe: number;
  prefill_forwards: number;
  tpf: number;
  output_tokens: number;
  committed_tokens: number;
  finish: string;
  /** Token positions fed to runner.forward in all (prefill included): the work, whatever the runtime. */
  tokens_encoded: number;
  total_ms: number;
  prefill_ms: number;
  steps_ms: number;
  runner_ms: number;
  loop_ms: number;
  /** loop_ms / total_ms × 100: time in the loop outside runner.forward, as % of the generation's wall time. */
  loop_overhead_pct: number;
}

interface Row {
  model: string;
  vocab: number;
  gen: number;
  prompt_tokens: number;
  reference: ModeRun;
  cached: ModeRun;
  /** reference wall ÷ cached wall. */
  speedup: number;
  /** reference CPU time ÷ cached CPU time. */
  speedup_cpu: number;
  /** reference tokens_encoded ÷ cached tokens_encoded: the speedup's ceiling if every position cost the same. */
  token_ratio: number;
  tokens_match: boolean;
}

interface Machine {
  cpu: string;
  cores: number;
  os: string;
  node: string;
  ort: string;
  runtime: string;
  threads: number;
}

function parseGens(value: string): number[] {
  const gens = value.split(',').map((s) => {
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isInteger(n) || n < 1)
      throw new UsageError(
        `--gen must be comma-separated positive integers, got ${JSON.stringify(value)}`,
      );
    return n;
  });
  return [...new Set(gens)].sort((a, b) => a - b);
}

function parseModels(value: string): BenchModelSpec[] {
  const names = [...new Set(value.split(',').map((s) => s.trim()))].join(',');
  return namedItems(names, 'models', 'model', BENCH_MODELS, (m) => m.name);
}

/** Deterministic ids spread over [0, vocab - 8): below every special token. */
function benchPrompt(vocab: number, length = PROMPT_LENGTH): number[] {
  const range = vocab - 8;
  let x = 0x9e3779b9;
  return Array.from({ length }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % range;
  });
}

function machineInfo(threads: number): Machine {
  const cpu = cpus();
  const ort = (
    createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }
  ).version;
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    ort,
    runtime: 'onnxruntime-node (CPU EP)',
    threads,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const ms = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(0)} ms`);

interface Timed {
  result: DecodeResult;
  wallMs: number;
  cpuMs: number;
  tokens: number;
}

/** Counts the positions each forward encodes; adds one call and an addition to the timed runner call. */
function countingRunner(runner: BlockRunner): { runner: BlockRunner; tokens: () => number } {
  let tokens = 0;
  return {
    runner: {
      info: runner.info,
      forward: (input) => {
        tokens += input.batch * input.seq;
        return runner.forward(input);
      },
      truncate: (state, length) => runner.truncate(state, length),
      ...(runner.release ? { release: (state: KvState) => runner.release?.(state) } : {}),
    },
    tokens: () => tokens,
  };
}

async function timedGenerate(
  model: OpenedModel,
  prompt: number[],
  gen: number,
  mode: DecodeMode,
  threshold: number,
  repeat = 1,
): Promise<Timed> {
  let best: Timed | null = null;
  for (let i = 0; i < repeat; i++) {
    const counted = countingRunner(model.runner);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const result = await generate(counted.runner, prompt, {
      maxTokens: gen,
      blockLength: BLOCK,
      steps: STEPS,
      threshold,
      temperature: 0,
      mode,
    });
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    if (best && !sameTokens(best.result, result))
      throw new Error(`${mode} gen ${gen} is not deterministic: repeat ${i + 1} gave other tokens`);
    if (!best || wallMs < best.wallMs)
      best = { result, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, tokens: counted.tokens() };
  }
  return best as Timed;
}

function modeRun({ result, wallMs, cpuMs, tokens }: Timed): ModeRun {
  const s = result.stats;
  return {
    wall_ms: wallMs,
    cpu_ms: cpuMs,
    nfe: s.forwards,
    prefill_forwards: s.prefillForwards,
    tpf: s.tokensPerForward,
    output_tokens: s.outputTokens,
    committed_tokens: s.committedTokens,
    finish: result.finishReason,
    tokens_encoded: tokens,
    total_ms: s.totalMs,
    prefill_ms: s.prefillMs,
    steps_ms: s.stepsMs,
    runner_ms: s.runnerMs,
    loop_ms: s.loopMs,
    loop_overhead_pct: s.totalMs > 0 ? (100 * s.loopMs) / s.totalMs : 0,
  };
}

function sameTokens(a: DecodeResult, b: DecodeResult): boolean {
  return (
    a.finishReason === b.finishReason &&
    a.tokens.length === b.tokens.length &&
    a.tokens.every((t, i) => t === b.tokens[i])
  );
}

function firstDifference(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

interface RunConfig {
  gens: number[];
  threshold: number;
  threads: number;
  promptTokens: number;
  repeat: number;
}

async function benchModel(
  spec: BenchModelSpec,
  { gens, threshold, threads, promptTokens, repeat }: RunConfig,
  mismatches: string[],
): Promise<Row[]> {
  const built = await ensureBenchPackage(spec, log);
  if (built.builtMs !== null) log(`${spec.name}: built in ${ms(built.builtMs)}`);
  const model = await openModel(built.dir, { runtime: 'node', threads });
  const { vocabSize, maxPositions } = model.runner.info;
  log(`${spec.name}: ${spec.description}; session ready in ${ms(model.sessionMs)}`);
  const prompt = benchPrompt(vocabSize, promptTokens);
  const fits = gens.filter((g) => Math.ceil((prompt.length + g) / BLOCK) * BLOCK <= maxPositions);
  if (fits.length < gens.length)
    log(
      `${spec.name}: skipping gen ${gens.filter((g) => !fits.includes(g)).join(', ')} (over max positions ${maxPositions})`,
    );
  if (fits.length === 0) return [];

  // One warm-up generation per mode (JIT, ORT arenas and kernel selection), at the smallest length (≤ 128).
  const warmGen = Math.min(fits[0], WARMUP_MAX_GEN);
  for (const mode of ['reference', 'cached'] as const) {
    const w = await timedGenerate(model, prompt, warmGen, mode, threshold);
    log(`${spec.name}: warm-up ${mode} gen ${warmGen}: ${ms(w.wallMs)}`);
  }

  const rows: Row[] = [];
  for (const gen of fits) {
    const ref = await timedGenerate(model, prompt, gen, 'reference', threshold, repeat);
    log(
      `${spec.name} gen ${gen}: reference ${ms(ref.wallMs)} (cpu ${ms(ref.cpuMs)}), NFE ${ref.result.stats.forwards}`,
    );
    const cached = await timedGenerate(model, prompt, gen, 'cached', threshold, repeat);
    log(
      `${spec.name} gen ${gen}: cached    ${ms(cached.wallMs)} (cpu ${ms(cached.cpuMs)}), NFE ${cached.result.stats.forwards}`,
    );
    const match = sameTokens(ref.result, cached.result);
    if (!match) {
      const at = firstDifference(ref.result.tokens, cached.result.tokens);
      const line =
        `!!!!!!!! TOKEN MISMATCH: ${spec.name} gen ${gen}: reference and cached differ at output index ${at} ` +
        `(reference ${ref.result.tokens[at] ?? 'end'} / ${ref.result.finishReason}, cached ${cached.result.tokens[at] ?? 'end'} / ${cached.result.finishReason}) !!!!!!!!`;
      log(line);
      mismatches.push(`${spec.name} gen ${gen} (first difference at output index ${at})`);
    }
    rows.push({
      model: spec.name,
      vocab: vocabSize,
      gen,
      prompt_tokens: prompt.length,
      reference: modeRun(ref),
      cached: modeRun(cached),
      speedup: ref.wallMs / cached.wallMs,
      speedup_cpu: ref.cpuMs / cached.cpuMs,
      token_ratio: ref.tokens / cached.tokens,
      tokens_match: match,
    });
  }
  await model.session.release();
  return rows;
}

/** The row a summary number comes from: `model` at gen 512, else its largest gen; null when the model did not run. */
function pickRow(rows: Row[], model: string): Row | null {
  const mine = rows.filter((r) => r.model === model);
  return mine.find((r) => r.gen === 512) ?? mine.at(-1) ?? null;
}

interface Summary {
  speedup: { row: Row; from: string } | null;
  loop: { row: Row; from: string } | null;
  nfeWorst: { row: Row; extra: number } | null;
}

function summarize(rows: Row[]): Summary {
  // Speedup: the bench model at 512 (or its largest gen); without the bench model, the biggest model that ran.
  const speedModel = [BENCH, REAL_VOCAB, TINY].find((m) => rows.some((r) => r.model === m.name));
  const sRow = speedModel ? pickRow(rows, speedModel.name) : null;
  const lRow = pickRow(rows, REAL_VOCAB.name);
  let nfeWorst: Summary['nfeWorst'] = null;
  for (const row of rows) {
    const extra = row.cached.nfe - row.reference.nfe;
    if (!nfeWorst || extra > nfeWorst.extra) nfeWorst = { row, extra };
  }
  return {
    speedup: sRow ? { row: sRow, from: `${sRow.model} gen ${sRow.gen}` } : null,
    loop: lRow ? { row: lRow, from: `${lRow.model} gen ${lRow.gen}, cached mode` } : null,
    nfeWorst,
  };
}

function goalLines(s: Summary): string[] {
  const verdict = (ok: boolean) => (ok ? 'MET   ' : 'MISSED');
  const lines: string[] = [];
  if (s.speedup) {
    const v = s.speedup.row.speedup;
    const exact = s.speedup.row.model === BENCH.name && s.speedup.row.gen === 512;
    lines.push(
      `${verdict(v >= GOALS.speedupAt512)} speedup ≥ ${GOALS.speedupAt512}× at gen 512 on the bench model: ${v.toFixed(2)}× wall, ${s.speedup.row.speedup_cpu.toFixed(2)}× cpu, ceiling ${s.speedup.row.token_ratio.toFixed(2)}× (${s.speedup.from}${exact ? '' : '; not the goal configuration'})`,
    );
  } else lines.push('n/a    speedup goal: no model ran');
  if (s.nfeWorst) {
    const { row, extra } = s.nfeWorst;
    lines.push(
      `${verdict(extra <= GOALS.nfeSlack)} NFE(cached) ≤ NFE(reference) + ${GOALS.nfeSlack}: worst cached − reference = ${extra} (${row.model} gen ${row.gen})`,
    );
  }
  if (s.loop) {
    const v = s.loop.row.cached.loop_overhead_pct;
    lines.push(
      `${verdict(v <= GOALS.loopOverheadPct)} loop overhead ≤ ${GOALS.loopOverheadPct} % at vocab ${REAL_VOCAB.model.vocab}: ${v.toFixed(2)} % (${s.loop.from})`,
    );
  } else lines.push(`n/a    loop overhead goal: the ${REAL_VOCAB.name} model did not run`);
  return lines;
}

function table(rows: Row[]): string {
  const head = [
    'model',
    'gen',
    'out',
    'ref ms',
    'cached ms',
    'speedup',
    'cpu speedup',
    'tok ratio',
    'NFE ref',
    'NFE cached',
    'TPF',
    'loop % ref',
    'loop % cached',
    'same',
  ];
  const body = rows.map((r) => [
    r.model,
    String(r.gen),
    String(r.cached.output_tokens),
    r.reference.wall_ms.toFixed(0),
    r.cached.wall_ms.toFixed(0),
    `${r.speedup.toFixed(2)}×`,
    `${r.speedup_cpu.toFixed(2)}×`,
    `${r.token_ratio.toFixed(2)}×`,
    String(r.reference.nfe),
    String(r.cached.nfe),
    r.cached.tpf.toFixed(2),
    r.reference.loop_overhead_pct.toFixed(2),
    r.cached.loop_overhead_pct.toFixed(2),
    r.tokens_match ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmt)].join('\n');
}

runMain('bench-decode', async () => {
  const { values } = parseFlags(
    process.argv.slice(2),
    {
      gen: { type: 'string' },
      quick: { type: 'boolean' },
      models: { type: 'string' },
      threshold: { type: 'string' },
      threads: { type: 'string' },
      'prompt-tokens': { type: 'string' },
      repeat: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    false,
  );
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const gens =
    values.gen !== undefined ? parseGens(values.gen) : values.quick ? QUICK_GENS : DEFAULT_GENS;
  const specs =
    values.models !== undefined
      ? parseModels(values.models)
      : values.quick
        ? QUICK_MODELS
        : BENCH_MODELS;
  const threshold = floatFlag(values.threshold, 'threshold') ?? 0.95;
  if (!(threshold > 0 && threshold <= 1))
    throw new UsageError(`--threshold must be in (0, 1], got ${threshold}`);
  const threads = intFlag(values.threads, 'threads', 1) ?? 1;
  const promptTokens = intFlag(values['prompt-tokens'], 'prompt-tokens', 1) ?? PROMPT_LENGTH;
  const repeat = intFlag(values.repeat, 'repeat', 1) ?? 1;
  const machine = machineInfo(threads);
  const started = performance.now();

  const header = [
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.os}`,
    `runtime: Node ${machine.node}, onnxruntime-node ${machine.ort}, CPU EP, intra-op threads pinned to ${threads}`,
    `decode: greedy, threshold ${threshold}, block ${BLOCK}, steps ${STEPS}, ${promptTokens}-token prompt; reference and cached in the same process, one warm-up each per model` +
      (repeat > 1 ? `, fastest of ${repeat} runs` : ''),
  ];
  if (!values.json) console.log(header.join('\n'));
  else for (const line of header) log(line);

  const mismatches: string[] = [];
  const rows: Row[] = [];
  for (const spec of specs)
    rows.push(
      ...(await benchModel(spec, { gens, threshold, threads, promptTokens, repeat }, mismatches)),
    );
  if (rows.length === 0)
    throw new Error(`nothing measured: gen ${gens.join(', ')} does not fit any model's positions`);
  const s = summarize(rows);
  const totalS = (performance.now() - started) / 1000;

  if (values.json) {
    const out = {
      speedup_at_512: s.speedup?.row.speedup ?? null,
      speedup_at_512_from: s.speedup?.from ?? null,
      speedup_at_512_cpu: s.speedup?.row.speedup_cpu ?? null,
      token_ratio_at_512: s.speedup?.row.token_ratio ?? null,
      loop_overhead_pct: s.loop?.row.cached.loop_overhead_pct ?? null,
      loop_overhead_from: s.loop?.from ?? null,
      loop_overhead_definition:
        'loopMs / totalMs × 100: time in the decode loop outside runner.forward, as % of the generation wall time',
      nfe_cached_minus_reference_max: s.nfeWorst?.extra ?? null,
      goals: {
        speedup_at_512_min: GOALS.speedupAt512,
        nfe_cached_max_extra: GOALS.nfeSlack,
        loop_overhead_pct_max: GOALS.loopOverheadPct,
        met: {
          speedup: s.speedup ? s.speedup.row.speedup >= GOALS.speedupAt512 : null,
          nfe: s.nfeWorst ? s.nfeWorst.extra <= GOALS.nfeSlack : null,
          loop_overhead: s.loop
            ? s.loop.row.cached.loop_overhead_pct <= GOALS.loopOverheadPct
            : null,
        },
      },
      tokens_match: mismatches.length === 0,
      config: {
        threshold,
        block_length: BLOCK,
        steps: STEPS,
        prompt_tokens: promptTokens,
        repeat,
        gens,
        models: specs.map((m) => m.name),
        temperature: 0,
      },
      machine,
      total_s: totalS,
      rows,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    console.log('');
    console.log(table(rows));
    console.log('');
    console.log(
      'ms: wall time of one generate() call. speedup: ref ms ÷ cached ms. cpu speedup: the same with process CPU time',
    );
    console.log(
      '(user + system), which other load on a shared machine inflates far less. tok ratio: positions encoded by reference ÷',
    );
    console.log(
      "by cached, the speedup's ceiling if every position cost the same. TPF: committed tokens per forward (cached).",
    );
    console.log(
      "loop %: time in the decode loop outside runner.forward, as % of the generation's wall time (stats loopMs ÷ totalMs).",
    );
    console.log('');
    console.log('goals (reported, not asserted):');
    for (const line of goalLines(s)) console.log(`  ${line}`);
    console.log(`total ${totalS.toFixed(1)} s`);
  }
  if (mismatches.length > 0)
    throw new Error(`TOKEN MISMATCH between reference and cached: ${mismatches.join('; ')}`);
});
