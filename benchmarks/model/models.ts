/**
 * Random LLaDA2 model packages for the benchmarks, built once under models/ (gitignored) and reused while their
 * manifest still matches the wanted config. Building one is make-tiny-model → export-onnx (fp32).
 */
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_TINY_PACKAGE, ensureTinyPackage } from '../../backends/node/tiny-package.ts';
import {
  resolveTinyOptions,
  tinyConfigJson,
  type TinyModelOptions,
} from '../../src/export/tiny/options.ts';

/** LLaDA2.0's real vocabulary size (mini and flash). */
export const LLADA2_VOCAB = 157184;

export interface BenchModelSpec {
  /** Short name used in tables and JSON. */
  readonly name: string;
  /** One line for the progress output. */
  readonly description: string;
  /** Package directory. */
  readonly dir: string;
  /** make-tiny-model overrides (everything else is the tiny default); seed 0. */
  readonly model: Partial<Omit<TinyModelOptions, 'out'>>;
}

/** The embedded tiny default package (models/tiny-random, also used by `npm start`). */
export const TINY: BenchModelSpec = {
  name: 'tiny',
  description: 'tiny default: 2 layers, hidden 64, 8 experts, vocab 512',
  dir: DEFAULT_TINY_PACKAGE,
  model: {},
};

/** Bench-size MoE: big enough that forwards dominate and the KV cache matters. */
export const BENCH: BenchModelSpec = {
  name: 'bench',
  description:
    'bench: 8 layers (1 dense), hidden 512, 8/2 heads × 64, 16 experts top-2 (4 groups, top 2) + 1 shared, vocab 32768',
  dir: resolve('models/bench-moe-512'),
  model: {
    layers: 8,
    denseLayers: 1,
    hidden: 512,
    heads: 8,
    kvHeads: 2,
    headDim: 64,
    experts: 16,
    expertsPerTok: 2,
    groups: 4,
    topkGroup: 2,
    sharedExperts: 1,
    intermediate: 1024,
    moeIntermediate: 256,
    vocab: 32768,
    maxPositions: 1024,
  },
};

/** Small body, LLaDA2's real vocabulary: what the loop costs when rows are 157184 wide. */
export const REAL_VOCAB: BenchModelSpec = {
  name: 'vocab157k',
  description: `real vocab: 2 layers (1 dense), hidden 128, 4/2 heads × 32, 8 experts, vocab ${LLADA2_VOCAB}`,
  dir: resolve('models/bench-vocab-157184'),
  model: {
    layers: 2,
    denseLayers: 1,
    hidden: 128,
    heads: 4,
    kvHeads: 2,
    headDim: 32,
    experts: 8,
    expertsPerTok: 2,
    groups: 4,
    topkGroup: 2,
    sharedExperts: 1,
    intermediate: 256,
    moeIntermediate: 64,
    vocab: LLADA2_VOCAB,
    maxPositions: 1024,
  },
};

export const BENCH_MODELS: readonly BenchModelSpec[] = [TINY, BENCH, REAL_VOCAB];

/** The package's config.json (as recorded in its manifest) differs from what the spec would write. */
async function isStale(spec: BenchModelSpec): Promise<boolean> {
  let manifest: { config?: Record<string, unknown>; quantization?: { dtype?: string } };
  try {
    manifest = JSON.parse(
      await readFile(join(spec.dir, 'manifest.json'), 'utf8'),
    ) as typeof manifest;
  } catch {
    return false; // absent (ensureTinyPackage builds it) or unreadable (it will fail loudly on open)
  }
  const want = tinyConfigJson(resolveTinyOptions({ out: spec.dir, ...spec.model }));
  const have = manifest.config ?? {};
  if (manifest.quantization?.dtype !== 'fp32') return true;
  return Object.entries(want).some(([k, v]) => JSON.stringify(have[k]) !== JSON.stringify(v));
}

/**
 * Returns the spec's package dir, building it when absent (or rebuilding it when its config no longer matches).
 * `log` gets one line before a build, which can take a while for the bigger ones.
 */
export async function ensureBenchPackage(
  spec: BenchModelSpec,
  log: (line: string) => void = () => {},
): Promise<{ dir: string; builtMs: number | null }> {
  // The default tiny package is shared with `npm start`: never delete it here.
  if (spec !== TINY && (await isStale(spec))) {
    log(`${spec.name}: package at ${spec.dir} has another config; rebuilding it`);
    await rm(spec.dir, { recursive: true, force: true });
  }
  const t0 = performance.now();
  let building = false;
  try {
    await readFile(join(spec.dir, 'manifest.json'));
  } catch {
    building = true;
    log(`${spec.name}: building ${spec.dir} (${spec.description})`);
  }
  const dir =
    spec === TINY
      ? await ensureTinyPackage({ quiet: true })
      : await ensureTinyPackage({
          outDir: spec.dir,
          seed: 0,
          model: spec.model,
          export: { dtype: 'fp32' },
          quiet: true,
        });
  return { dir, builtMs: building ? performance.now() - t0 : null };
}
