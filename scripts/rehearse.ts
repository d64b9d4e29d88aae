/**
 * CLI: npm run rehearse -- --preset llada2-mini [--layers N] [--dtype int4|int8|fp16|fp32] [--work DIR] [--keep] [--json]
 * A random checkpoint of the preset's exact shape goes through the real pipeline (export-onnx, publish-model to a
 * local S3 server, load from s3:// through the disk cache, cached greedy decode checked against the no-cache
 * reference), each stage a measured process. Prints a summary (or with --json the report object) on stdout;
 * exits 1 when a stage fails, an output is not finite, or the cached tokens differ from the reference.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { intFlag, parseFlags, runMain, UsageError } from '../backends/node/cli.ts';
import { DTYPES, rehearse } from '../backends/node/rehearse/rehearse.ts';
import { PRESETS, type PresetName } from '../backends/node/rehearse/presets.ts';
import { runStage } from '../backends/node/rehearse/stages.ts';
import { PROVIDERS, type Provider } from '../backends/node/open-model.ts';
import { summary } from '../backends/node/rehearse/summary.ts';
import type { WeightDtype } from '../src/export/quantize.ts';

const USAGE = `usage: rehearse --preset ${Object.keys(PRESETS).join('|')} [--layers N] [--dtype ${DTYPES.join('|')}] [--work DIR] [--keep] [--json] [--seed N] [--providers webgpu,cpu] [--threads N]`;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function parseProviders(list: string | undefined): Provider[] | undefined {
  if (list === undefined) return undefined;
  const providers = list.split(',').map((p) => p.trim()) as Provider[];
  const bad = providers.find((p) => !PROVIDERS.includes(p));
  if (bad !== undefined)
    throw new UsageError(
      `--providers: unknown provider ${JSON.stringify(bad)} (known: ${PROVIDERS.join(', ')})`,
    );
  return providers;
}

runMain('rehearse', async () => {
  const { values: v } = parseFlags(
    process.argv.slice(2),
    {
      preset: { type: 'string' },
      layers: { type: 'string' },
      dtype: { type: 'string' },
      work: { type: 'string' },
      keep: { type: 'boolean' },
      json: { type: 'boolean' },
      seed: { type: 'string' },
      providers: { type: 'string' },
      threads: { type: 'string' },
      stage: { type: 'string' },
      'stage-options': { type: 'string' },
      help: { type: 'boolean' },
    },
    false,
  );
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (v.stage) return runStage(v.stage, JSON.parse(v['stage-options'] ?? '{}'), log);
  if (v.help) return void console.log(USAGE);
  if (!v.preset || !(v.preset in PRESETS)) throw new UsageError(USAGE);
  const dtype = (v.dtype ?? 'int4') as WeightDtype;
  if (!DTYPES.includes(dtype))
    throw new UsageError(
      `--dtype must be one of ${DTYPES.join('|')}, got ${JSON.stringify(v.dtype)}`,
    );
  const work = v.work ? resolve(v.work) : await mkdtemp(join(tmpdir(), 'unmask-rehearse-'));
  const keep = v.keep ?? false;
  const report = await rehearse({
    preset: v.preset as PresetName,
    layers: intFlag(v.layers, 'layers', 1),
    dtype,
    work,
    keep,
    seed: intFlag(v.seed, 'seed', 0),
    providers: parseProviders(v.providers),
    threads: intFlag(v.threads, 'threads', 1),
    entries: {
      stage: here('./rehearse.ts'),
      exportOnnx: here('./export-onnx.ts'),
      publishModel: here('./publish-model.ts'),
    },
    log: (line) => log(`rehearse: ${line}`),
  }).finally(() => (v.work || keep ? undefined : rm(work, { recursive: true, force: true })));
  process.stdout.write(v.json ? `${JSON.stringify(report)}\n` : summary(report));
  if (!report.finite) throw new Error('an output was not finite (NaN or ±Infinity)');
  if (!report.cached_equals_reference)
    throw new Error('the cached decode differs from the no-cache reference in the first block');
});
