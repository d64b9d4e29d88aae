/**
 * Accuracy ↔ parallelism of a trained demo package (default assets/demo-model): exact match on held-out prompts
 * per task × threshold × commit algorithm, TPF, forwards and wall time per answer, and the speedup over the same
 * model decoded one token per forward at equal accuracy.
 * Usage: npm run bench:quality -- [--model DIR] [--limit N] [--task NAME|all] [--thresholds 0.5,0.7,0.9,0.95]
 *        [--algorithms a,b] [--mode reference|cached] [--runtime node|wasm] [--json] [--chart OUT.png]
 */
import { writeFile } from 'node:fs/promises';
import { UsageError, intFlag, parseFlags, runMain } from './lib/cli.ts';
import { RUNTIMES, openLocalCodec, openLocalModel, type Runtime } from './lib/local-package.ts';
import { algorithmNames } from '../src/decode/index.ts';
import { qualityChartSvg, CHART_HEIGHT, CHART_WIDTH } from './bench/quality-chart.ts';
import { svgToPng } from './bench/quality-png.ts';
import { qualityJson, qualityTable } from './bench/quality-report.ts';
import { DEFAULT_ALGORITHMS, DEFAULT_THRESHOLDS, runSweep } from './bench/quality-sweep.ts';
import { resolveTasks } from './train/tasks.ts';

const FLAGS = {
  model: { type: 'string' }, limit: { type: 'string' }, task: { type: 'string' }, thresholds: { type: 'string' },
  algorithms: { type: 'string' }, mode: { type: 'string' }, runtime: { type: 'string' }, json: { type: 'boolean' },
  chart: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

const USAGE = `usage: npm run bench:quality -- [--model DIR] [--limit N] [--task NAME|all] [--thresholds LIST]
       [--algorithms LIST] [--mode reference|cached] [--runtime node|wasm] [--json] [--chart OUT.png]`;

runMain('bench:quality', async () => {
  const { values: v, positionals } = parseFlags(process.argv.slice(2), FLAGS, false);
  if (v.help) { process.stdout.write(`${USAGE}\n`); return; }
  void positionals;
  const model = v.model ?? 'assets/demo-model';
  const limit = intFlag(v.limit, 'limit', 1) ?? 200;
  let tasks: string[];
  try { tasks = resolveTasks(v.task ?? 'all').map((t) => t.name); } catch (e: unknown) { throw new UsageError((e as Error).message); }
  const thresholds = v.thresholds === undefined ? [...DEFAULT_THRESHOLDS] : v.thresholds.split(',').map((s) => {
    const n = Number(s);
    if (s.trim() === '' || !(n > 0 && n <= 1)) throw new UsageError(`--thresholds: each must be in (0, 1], got ${JSON.stringify(s)}`);
    return n;
  });
  const algorithms = v.algorithms === undefined ? [...DEFAULT_ALGORITHMS] : v.algorithms.split(',').map((s) => s.trim());
  for (const a of algorithms) if (!algorithmNames().includes(a)) throw new UsageError(`unknown algorithm ${JSON.stringify(a)}; known: ${algorithmNames().join(', ')}`);
  const mode = v.mode ?? 'reference';
  if (mode !== 'reference' && mode !== 'cached') throw new UsageError(`--mode must be reference or cached, got ${JSON.stringify(mode)}`);
  const runtime = (v.runtime ?? 'node') as Runtime;
  if (!RUNTIMES.includes(runtime)) throw new UsageError(`--runtime must be one of ${RUNTIMES.join(', ')}, got ${JSON.stringify(v.runtime)}`);
  if (v.chart !== undefined && !v.chart.endsWith('.png')) throw new UsageError(`--chart must name a .png file, got ${JSON.stringify(v.chart)}`);

  const local = await openLocalModel(model, { runtime, threads: 1 });
  const codec = await openLocalCodec(model, local.manifest);
  const blockLength = local.manifest.decode.block_length;
  const sweeps = await runSweep({
    runner: local.runner, codec, tasks, limit, thresholds, algorithms, mode,
    onPoint: (task, p) => process.stderr.write(`bench:quality ${task} ${p.algorithm}${p.threshold === null ? '' : ` @ ${p.threshold}`}: ${(100 * p.accuracy).toFixed(1)} % TPF ${p.tokensPerForward.toFixed(2)}\n`),
  });
  const meta = { model, runtime, mode, blockLength, limit };
  process.stdout.write(v.json ? `${JSON.stringify(qualityJson(sweeps, meta), null, 2)}\n` : `${qualityTable(sweeps, meta)}\n`);
  if (v.chart) {
    const svgPath = v.chart.replace(/\.png$/, '.svg');
    await writeFile(svgPath, qualityChartSvg(sweeps, `Demo model: exact match vs tokens per forward (block ${blockLength}, ${limit} prompts/task)`));
    svgToPng(svgPath, v.chart, CHART_WIDTH, CHART_HEIGHT);
    process.stderr.write(`bench:quality: wrote ${v.chart} and ${svgPath}\n`);
  }
});
