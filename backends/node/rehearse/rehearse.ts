/**
 * The full-size rehearsal: random checkpoint → export-onnx → publish-model to a local S3 server → load from
 * s3:// through the disk cache → cached greedy decode checked against the no-cache reference. Every stage is
 * its own process, measured (measured-process.ts); intermediate outputs are deleted as soon as no later
 * stage needs them, unless `keep`.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { WeightDtype } from '../../../src/export/quantize.ts';
import { parseManifest } from '../../../src/model/manifest.ts';
import { runMeasured, type MeasuredRun } from './measured-process.ts';
import { machineInfo, type MachineInfo } from './machine.ts';
import { estimatePackageBytes } from './package-size.ts';
import { parameterCount, presetConfig, type PresetName } from './presets.ts';
import { diskBytes, type StageName, type StageReport } from './report.ts';
import { startS3Stage } from './s3-stage.ts';
import type { Provider } from '../open-model.ts';
import type { ServeStageResult } from './serve-stage.ts';

export const DTYPES: readonly WeightDtype[] = ['int4', 'int8', 'fp16', 'fp32'];
const BUCKET = 'models';

export interface RehearsalOptions {
  preset: PresetName;
  /** Default: the preset's depth. */
  layers?: number;
  dtype: WeightDtype;
  /** Working directory (created; what the rehearsal writes there is removed at the end unless `keep`). */
  work: string;
  keep: boolean;
  seed?: number;
  /** Execution providers of the serving stage, in order (default ['cpu']). */
  providers?: Provider[];
  threads?: number;
  /** Node entry points (run with tsx): this rehearsal's own stage runner, and the two pipeline CLIs. */
  entries: { stage: string; exportOnnx: string; publishModel: string };
  log: (line: string) => void;
}

export interface RehearsalReport {
  preset: PresetName;
  layers: number;
  dtype: WeightDtype;
  /** The execution provider the model was served on. */
  provider: string;
  parameters: number;
  stages: Record<StageName, StageReport>;
  package_bytes: number;
  /** Measured for `dtype`, estimated from the exporter's encodings for the others. */
  package_bytes_by_dtype: Record<WeightDtype, { bytes: number; measured: boolean }>;
  ms_per_block: number;
  median_ms_per_block: number;
  tokens_per_s: number;
  tokens: number[];
  reference_tokens: number[];
  cached_equals_reference: boolean;
  finite: boolean;
  machine: MachineInfo;
}

/** A 32-token prompt (one whole block, so generation starts on a block boundary) of ordinary token ids. */
export function rehearsalPrompt(length = 32, seed = 7): number[] {
  let s = seed;
  return Array.from({ length }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 3 + (s % 4000);
  });
}

export async function rehearse(o: RehearsalOptions): Promise<RehearsalReport> {
  const config = presetConfig(o.preset, o.layers);
  const layers = config.num_hidden_layers as number;
  const dirs = {
    checkpoint: join(o.work, 'checkpoint'),
    package: join(o.work, 'package'),
    s3: join(o.work, 's3'),
    cache: join(o.work, 'cache'),
  };
  await mkdir(o.work, { recursive: true });
  for (const d of Object.values(dirs)) await rm(d, { recursive: true, force: true });
  const stages = {} as Record<StageName, StageReport>;
  const run = (stage: string, args: string[], env: Record<string, string> = {}) =>
    measured(o, stage, args, env);
  const dropUnlessKept = async (dir: string) => {
    if (!o.keep) await rm(dir, { recursive: true, force: true });
  };
  let s3: Awaited<ReturnType<typeof startS3Stage>> | undefined;
  try {
    o.log(`checkpoint: ${o.preset}, ${layers} layers, bf16, into ${dirs.checkpoint}`);
    const ckpt = await run('checkpoint', [
      o.entries.stage,
      '--stage',
      'checkpoint',
      '--stage-options',
      JSON.stringify({ dir: dirs.checkpoint, preset: o.preset, layers, seed: o.seed ?? 0 }),
    ]);
    stages.checkpoint = { ...stageReport(ckpt), disk_bytes: await diskBytes(dirs.checkpoint) };

    o.log(`export: ${o.dtype} package into ${dirs.package}`);
    const exp = await run('export', [
      o.entries.exportOnnx,
      dirs.checkpoint,
      dirs.package,
      '--dtype',
      o.dtype,
      '--name',
      `${o.preset}-${layers}l-${o.dtype}`,
    ]);
    stages.export = { ...stageReport(exp), disk_bytes: await diskBytes(dirs.package) };
    await dropUnlessKept(dirs.checkpoint);
    const manifest = parseManifest(
      JSON.parse(await readFile(join(dirs.package, 'manifest.json'), 'utf8')),
    );
    const packageBytes = manifest.files.reduce((sum, f) => sum + f.bytes, 0);

    s3 = await startS3Stage(o, dirs.s3, BUCKET);
    const location = `s3://${BUCKET}/${manifest.name}`;
    o.log(`publish: ${location} (local S3 at ${s3.endpoint})`);
    const pub = await run('publish', [o.entries.publishModel, dirs.package, location], s3.env);
    stages.publish = { ...stageReport(pub), disk_bytes: await diskBytes(dirs.s3) };
    await dropUnlessKept(dirs.package);

    o.log(`load + generate: ${location} through the disk cache ${dirs.cache}`);
    const serve = await run(
      'serve',
      [
        o.entries.stage,
        '--stage',
        'serve',
        '--stage-options',
        JSON.stringify({
          model: location,
          promptIds: rehearsalPrompt(),
          genLength: 64,
          blockLength: 32,
          providers: o.providers,
          threads: o.threads,
        }),
      ],
      { ...s3.env, UNMASK_CACHE_DIR: dirs.cache },
    );
    const result = JSON.parse(serve.stdout.trim().split('\n').at(-1)!) as ServeStageResult;
    const phase = (name: string) => serve.phases.find((p) => p.phase === name);
    stages.load = {
      wall_s: (phase('load')?.wallMs ?? 0) / 1000,
      peak_rss_mib: mib(phase('load')?.peakRssBytes ?? 0),
      disk_bytes: await diskBytes(dirs.cache),
      fetch_s: result.fetchMs / 1000,
      session_s: result.sessionMs / 1000,
    };
    stages.generate = {
      wall_s: (phase('generate')?.wallMs ?? 0) / 1000,
      peak_rss_mib: mib(phase('generate')?.peakRssBytes ?? 0),
      forwards: result.cachedStats.forwards,
      reference_forwards: result.referenceStats.forwards,
    };
    const s3Run = await s3.stop();
    stages.publish.s3_server_peak_rss_mib = mib(s3Run.peakRssBytes);
    s3 = undefined;

    const byDtype = Object.fromEntries(
      DTYPES.map((d) => [
        d,
        d === o.dtype
          ? { bytes: packageBytes, measured: true }
          : { bytes: estimatePackageBytes(config, d), measured: false },
      ]),
    ) as RehearsalReport['package_bytes_by_dtype'];
    return {
      preset: o.preset,
      layers,
      dtype: o.dtype,
      provider: result.provider,
      parameters: parameterCount(config),
      stages,
      package_bytes: packageBytes,
      package_bytes_by_dtype: byDtype,
      ms_per_block: result.msPerBlock,
      median_ms_per_block: result.medianMsPerBlock,
      tokens_per_s: result.tokensPerS,
      tokens: result.tokens,
      reference_tokens: result.referenceTokens,
      cached_equals_reference: result.cachedEqualsReference,
      finite: result.finite,
      machine: await machineInfo(o.work),
    };
  } finally {
    await s3?.stop().catch(() => undefined);
    if (!o.keep) for (const d of Object.values(dirs)) await rm(d, { recursive: true, force: true });
  }
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

function stageReport(r: MeasuredRun): StageReport {
  return { wall_s: r.wallMs / 1000, peak_rss_mib: mib(r.peakRssBytes) };
}

/** Runs one stage process; a failure throws one line naming the stage and its last error line. */
async function measured(
  o: RehearsalOptions,
  stage: string,
  args: string[],
  env: Record<string, string>,
): Promise<MeasuredRun> {
  const progress = throttle(o.log, 5000);
  const r = await runMeasured(args, {
    env,
    reportFile: join(o.work, `.${stage}.rss`),
    onStderrLine: (line) => {
      if (line.startsWith('npm warn') || !line.trim()) return;
      if (/\d+%/.test(line)) progress(`${stage}: ${line.trim()}`);
      else o.log(`${stage}: ${line.trim()}`);
    },
  });
  if (r.code !== 0) {
    const reason = r.stderrTail.filter((l) => l.trim() && !l.startsWith('npm warn')).at(-1);
    throw new Error(`${stage} failed (exit ${r.code}): ${reason ?? 'no output'}`);
  }
  o.log(`${stage}: done in ${(r.wallMs / 1000).toFixed(1)} s, peak RSS ${mib(r.peakRssBytes)} MiB`);
  return r;
}

/** At most one line per `ms` (progress lines). */
function throttle(log: (line: string) => void, ms: number): (line: string) => void {
  let last = 0;
  return (line) => {
    const now = Date.now();
    if (now - last >= ms) {
      last = now;
      log(line);
    }
  };
}
