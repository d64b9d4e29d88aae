/**
 * Accuracy ↔ parallelism of a trained demo package (default assets/demo-model): exact match on held-out prompts
 * per task × threshold × commit algorithm, TPF, forwards and wall time per answer, and the speedup over the same
 * model decoded one token per forward at equal accuracy. Several packages (--package, repeatable: e.g. the fp32,
 * int8 and int4 exports of one checkpoint) are measured side by side, every setting on each in turn.
 * Usage: npm run bench:quality -- [--model DIR | --package DIR ...] [--limit N] [--task NAME|all]
 *        [--thresholds 0.5,0.7,0.9,0.95] [--algorithms a,b] [--mode reference|cached] [--runtime node|wasm]
 *        [--json] [--chart OUT.png] [--api URL [--api-model NAME]]   (through a served API; key in UNMASK_API_KEY)
 */
import { writeFile } from 'node:fs/promises';
import { UsageError, intFlag, parseFlags, runMain } from '../backends/node/cli.ts';
import { RUNTIMES, type Runtime } from '../backends/node/open-model.ts';
import { demoCodec } from '../training/examples.ts';
import { evaluateViaApi, type ApiTarget } from './quality/api.ts';
import { encodingLabel, openQualityPackages } from './quality/packages.ts';
import { packagesChartSize, packagesChartSvg } from './quality/packages-chart.ts';
import { algorithmNames } from '../src/decode/index.ts';
import { qualityChartSvg, CHART_HEIGHT, CHART_WIDTH } from './quality/chart.ts';
import { svgToPng } from '../backends/node/svg-png.ts';
import {
  packagesJson,
  packagesTable,
  qualityJson,
  qualityTable,
  type PackageSweep,
} from './quality/report.ts';
import {
  DEFAULT_ALGORITHMS,
  DEFAULT_THRESHOLDS,
  runSweep,
  runSweeps,
  type Evaluate,
  type TaskSweep,
} from './quality/sweep.ts';
import type { QualityMeta } from './quality/report.ts';
import { resolveTasks } from '../training/tasks.ts';

const FLAGS = {
  model: { type: 'string' },
  package: { type: 'string', multiple: true },
  limit: { type: 'string' },
  task: { type: 'string' },
  thresholds: { type: 'string' },
  algorithms: { type: 'string' },
  mode: { type: 'string' },
  runtime: { type: 'string' },
  json: { type: 'boolean' },
  chart: { type: 'string' },
  api: { type: 'string' },
  'api-model': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const USAGE = `usage: npm run bench:quality -- [--model DIR | --package DIR ...] [--limit N] [--task NAME|all]
       [--thresholds LIST] [--algorithms LIST] [--mode reference|cached] [--runtime node|wasm] [--json]
       [--chart OUT.png] [--api URL [--api-model NAME]]
       --package DIR (repeatable): packages measured side by side (e.g. one checkpoint's fp32/int8/int4 exports)
       --runtime wasm: onnxruntime-web in Node, the Worker's build (reports each package's wasm heap)
       --api URL   measure through a served OpenAI-compatible API (e.g. npm start's
                                        http://127.0.0.1:8787) with the key in UNMASK_API_KEY`;

runMain('bench:quality', async () => {
  const { values: v, positionals } = parseFlags(process.argv.slice(2), FLAGS, false);
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  void positionals;
  const limit = intFlag(v.limit, 'limit', 1) ?? 200;
  let tasks: string[];
  try {
    tasks = resolveTasks(v.task ?? 'all').map((t) => t.name);
  } catch (e: unknown) {
    throw new UsageError((e as Error).message);
  }
  const thresholds =
    v.thresholds === undefined
      ? [...DEFAULT_THRESHOLDS]
      : v.thresholds.split(',').map((s) => {
          const n = Number(s);
          if (s.trim() === '' || !(n > 0 && n <= 1))
            throw new UsageError(`--thresholds: each must be in (0, 1], got ${JSON.stringify(s)}`);
          return n;
        });
  const algorithms =
    v.algorithms === undefined
      ? [...DEFAULT_ALGORITHMS]
      : v.algorithms.split(',').map((s) => s.trim());
  for (const a of algorithms)
    if (!algorithmNames().includes(a))
      throw new UsageError(
        `unknown algorithm ${JSON.stringify(a)}; known: ${algorithmNames().join(', ')}`,
      );
  if (v.chart !== undefined && !v.chart.endsWith('.png'))
    throw new UsageError(`--chart must name a .png file, got ${JSON.stringify(v.chart)}`);
  const onPoint = (
    label: string,
    task: string,
    p: TaskSweep['baseline'],
    failures: { prompt: string; got: string; expected: string }[],
  ) => {
    process.stderr.write(
      `bench:quality ${label}${task} ${p.algorithm}${p.threshold === null ? '' : ` @ ${p.threshold}`}: ${(100 * p.accuracy).toFixed(1)} % TPF ${p.tokensPerForward.toFixed(2)}\n`,
    );
    for (const f of failures)
      process.stderr.write(
        `  wrong: ${JSON.stringify(f.prompt)} → ${JSON.stringify(f.got)} (expected ${JSON.stringify(f.expected)})\n`,
      );
  };
  const sweepSettings = { tasks, limit, thresholds, algorithms };
  if (v.api !== undefined) {
    if (v.package !== undefined)
      throw new UsageError('--package applies to local packages, not to --api');
    const { evaluate, meta } = await apiEvaluator(v.api, v['api-model'], v, limit);
    const sweeps = await runSweep({
      evaluate,
      ...sweepSettings,
      onPoint: (task, p, failures) => onPoint('', task, p, failures),
    });
    await report(sweeps, meta, v, limit);
    return;
  }
  const dirs = [...(v.model === undefined ? [] : [v.model]), ...(v.package ?? [])];
  if (dirs.length === 0) dirs.push('assets/demo-model');
  const mode = v.mode ?? 'reference';
  if (mode !== 'reference' && mode !== 'cached')
    throw new UsageError(`--mode must be reference or cached, got ${JSON.stringify(mode)}`);
  const runtime = (v.runtime ?? 'node') as Runtime;
  if (!RUNTIMES.includes(runtime))
    throw new UsageError(
      `--runtime must be one of ${RUNTIMES.join(', ')}, got ${JSON.stringify(v.runtime)}`,
    );
  const packages = await openQualityPackages(dirs, {
    runtime,
    mode,
    log: (line) => process.stderr.write(`bench:quality ${line}\n`),
  });
  const multi = packages.length > 1;
  const perPackage = await runSweeps({
    evaluators: packages.map((p) => p.evaluate),
    ...sweepSettings,
    onPoint: (i, task, p, failures) =>
      onPoint(multi ? `${packages[i].name} ` : '', task, p, failures),
  });
  const blockLength = packages[0].manifest.decode.block_length;
  const meta: QualityMeta = { model: packages[0].dir, runtime, mode, blockLength, limit };
  const results: PackageSweep[] = packages.map((p, i) => ({
    name: p.name,
    dir: p.dir,
    encoding: encodingLabel(p.manifest),
    dtype: p.manifest.quantization.dtype,
    bytes: p.bytes,
    wasmHeap: p.wasmHeap,
    sweeps: perPackage[i],
  }));
  if (!multi) {
    await report(perPackage[0], meta, v, limit, results);
    return;
  }
  process.stdout.write(
    v.json
      ? `${JSON.stringify(packagesJson(results, meta), null, 2)}\n`
      : `${packagesTable(results, meta)}\n`,
  );
  if (v.chart) {
    const svgPath = v.chart.replace(/\.png$/, '.svg');
    const { width, height } = packagesChartSize(tasks.length, results);
    await writeFile(
      svgPath,
      packagesChartSvg(
        results,
        'Exact match vs tokens per forward, by weight encoding',
        `block ${blockLength}, ${limit} held-out prompts per task, greedy, ORT-${runtime}`,
      ),
    );
    svgToPng(svgPath, v.chart, width, height);
    process.stderr.write(`bench:quality: wrote ${v.chart} and ${svgPath}\n`);
  }
});

/** One model's output: the table or JSON (with `packages` when measured locally), and the chart. */
async function report(
  sweeps: TaskSweep[],
  meta: QualityMeta,
  v: Flags,
  limit: number,
  packages?: PackageSweep[],
): Promise<void> {
  const blockText = meta.blockLength === null ? 'server default' : meta.blockLength;
  process.stdout.write(
    v.json
      ? `${JSON.stringify(packages ? packagesJson(packages, meta) : qualityJson(sweeps, meta), null, 2)}\n`
      : `${qualityTable(sweeps, meta)}\n`,
  );
  if (v.chart) {
    const chart = v.chart as string;
    const svgPath = chart.replace(/\.png$/, '.svg');
    await writeFile(
      svgPath,
      qualityChartSvg(
        sweeps,
        `Demo model: exact match vs tokens per forward (block ${blockText}, ${limit} prompts/task)`,
      ),
    );
    svgToPng(svgPath, chart, CHART_WIDTH, CHART_HEIGHT);
    process.stderr.write(`bench:quality: wrote ${chart} and ${svgPath}\n`);
  }
}

type Flags = Record<string, string | string[] | boolean | undefined>;

async function apiEvaluator(
  url: string,
  apiModel: string | undefined,
  v: Flags,
  limit: number,
): Promise<{ evaluate: Evaluate; meta: QualityMeta }> {
  for (const local of ['model', 'package', 'mode', 'runtime'] as const)
    if (v[local] !== undefined)
      throw new UsageError(`--${local} applies to a local package, not to --api`);
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new UsageError(
      `--api must be a URL like http://127.0.0.1:8787, got ${JSON.stringify(url)}`,
    );
  }
  const baseUrl = `${base.origin}${base.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1`;
  const apiKey = process.env.UNMASK_API_KEY;
  if (!apiKey)
    throw new UsageError(
      '--api needs an API key in UNMASK_API_KEY (create one: npm run tenant -- create --name me)',
    );
  const model = apiModel ?? (await firstModel(baseUrl, apiKey));
  const target: ApiTarget = { baseUrl, apiKey, model };
  // The tool task's turns are rendered locally with the demo model's template (the chat route takes no tools).
  const codec = demoCodec();
  return {
    evaluate: (examples, s) => evaluateViaApi(target, examples, { ...s, codec }),
    meta: {
      model: `${model} at ${baseUrl}`,
      runtime: 'served API',
      mode: 'server',
      blockLength: null,
      limit,
    },
  };
}

/** The first model the key may use, from GET /v1/models. */
async function firstModel(baseUrl: string, apiKey: string): Promise<string> {
  const res = await fetch(`${baseUrl}/models`, {
    headers: { authorization: `Bearer ${apiKey}` },
  }).catch((e: unknown) => {
    throw new Error(`cannot reach ${baseUrl}/models: ${(e as Error).message}`);
  });
  const json = (await res.json().catch(() => ({}))) as {
    data?: { id: string }[];
    error?: { message?: string };
  };
  if (!res.ok)
    throw new Error(
      `GET ${baseUrl}/models → ${res.status}: ${json.error?.message ?? res.statusText}`,
    );
  const id = json.data?.[0]?.id;
  if (!id) throw new Error(`GET ${baseUrl}/models lists no model for this key; pass --api-model`);
  return id;
}
