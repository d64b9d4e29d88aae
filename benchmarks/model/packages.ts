/**
 * Random checkpoints and their exported packages for `npm run bench:model`, built under models/bench-model/
 * (gitignored) and reused while their recorded config, dtype, int4 layout and MoE implementation still match.
 *
 * Layout: models/bench-model/<model>/checkpoint (HF layout, seed 0) and models/bench-model/<model>/<variant>/.
 */
import { access, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { exportPackage } from '../../backends/node/export/export-package.ts';
import type { MoeImplementation } from '../../src/export/moe.ts';
import type {
  EmbeddingDtype,
  Int4Layout,
  QuantKernel,
  WeightDtype,
} from '../../src/export/quantize.ts';
import { makeTinyModel } from '../../backends/node/export/make-tiny-model.ts';
import {
  resolveTinyOptions,
  tinyConfigJson,
  type TinyModelOptions,
} from '../../src/export/tiny/options.ts';
import { parseManifest, type Manifest } from '../../src/model/manifest.ts';

export const BENCH_MODEL_ROOT = resolve('models/bench-model');

export type ModelShape = Partial<Omit<TinyModelOptions, 'out' | 'seed'>>;

export interface ModelSpec {
  /** Directory name under models/bench-model and the name in tables. */
  readonly name: string;
  readonly description: string;
  /** make-tiny-model overrides (everything else is the tiny default); always seed 0. */
  readonly shape: ModelShape;
}

/** One export of a checkpoint. */
export interface Variant {
  /** Table label and directory name: fp32, fp16, int8, int4-dq, int4-mnb (+ `-dense` for the dense MoE). */
  readonly label: string;
  readonly dtype: WeightDtype;
  readonly int4Layout?: Int4Layout;
  /** int8 / int4-dq: int8 kernels (default) or weights dequantized to fp32 at load. */
  readonly kernel?: QuantKernel;
  readonly embeddings?: EmbeddingDtype;
  readonly lmHead?: WeightDtype;
  readonly moe: MoeImplementation;
}

export const TINY_MODEL: ModelSpec = {
  name: 'tiny',
  description:
    'make-tiny-model defaults: 2 layers (1 dense), hidden 64, 4/2 heads × 16, 8 experts top-2, vocab 512',
  shape: {},
};

export const BENCH_MODEL: ModelSpec = {
  name: 'bench',
  description:
    '8 layers (1 dense), hidden 512, 8/2 heads × 64, 16 experts top-2 (4 groups, top 2) + 1 shared, vocab 32768',
  shape: {
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

/**
 * LLaDA2.0-mini's expert shape (256 experts top-8 in 8 groups keeping 4, vocab 32k) at hidden 512 and 8 layers:
 * the shape chatllm.cpp's per-block figures were taken on (hidden 512, the make-tiny-model default heads).
 */
export const CHATLLM_MODEL: ModelSpec = {
  name: 'chatllm',
  description:
    '8 layers (1 dense), hidden 512, 4/2 heads × 16, 256 experts top-8 (8 groups, top 4) × 32 + 1 shared, vocab 32768',
  shape: {
    layers: 8,
    hidden: 512,
    experts: 256,
    expertsPerTok: 8,
    groups: 8,
    topkGroup: 4,
    moeIntermediate: 32,
    vocab: 32768,
  },
};

export const MODELS: readonly ModelSpec[] = [TINY_MODEL, BENCH_MODEL, CHATLLM_MODEL];

/**
 * The weight encodings, all with the sparse MoE/QMoE kernels: the int8-kernel defaults, the same weights
 * dequantized to fp32 at load (`-float`), int8 embeddings, and int4 in memory (MatMulNBits + 4-bit QMoE).
 */
export const DTYPE_VARIANTS: readonly Variant[] = [
  { label: 'fp32', dtype: 'fp32', moe: 'ort-moe' },
  { label: 'fp16', dtype: 'fp16', moe: 'ort-moe' },
  { label: 'int8', dtype: 'int8', kernel: 'int8', moe: 'ort-moe' },
  { label: 'int8-emb8', dtype: 'int8', kernel: 'int8', embeddings: 'int8', moe: 'ort-moe' },
  { label: 'int8-float', dtype: 'int8', kernel: 'float', moe: 'ort-moe' },
  { label: 'int4', dtype: 'int4', int4Layout: 'dq', kernel: 'int8', moe: 'ort-moe' },
  { label: 'int4-float', dtype: 'int4', int4Layout: 'dq', kernel: 'float', moe: 'ort-moe' },
  { label: 'int4-mnb', dtype: 'int4', int4Layout: 'matmulnbits', moe: 'ort-moe' },
];

export const MOE_VARIANTS: readonly Variant[] = [
  { label: 'fp32', dtype: 'fp32', moe: 'ort-moe' },
  { label: 'fp32-dense', dtype: 'fp32', moe: 'dense' },
];

/**
 * MoE scaling configs: identical except the expert count E and top-k. 8 groups keep the top 4, so every group
 * has ≥ 2 experts and the kept groups hold ≥ 8 experts (enough for top-8) at every E.
 */
export function moeScalingModel(experts: number, topk: number): ModelSpec {
  return {
    name: `moe-e${experts}-k${topk}`,
    description: `2 layers (1 dense), hidden 512, ${experts} experts top-${topk} (8 groups, top 4) + 1 shared, vocab 4096`,
    shape: {
      layers: 2,
      denseLayers: 1,
      hidden: 512,
      heads: 8,
      kvHeads: 2,
      headDim: 64,
      experts,
      expertsPerTok: topk,
      groups: 8,
      topkGroup: 4,
      sharedExperts: 1,
      intermediate: 1024,
      moeIntermediate: 256,
      vocab: 4096,
      maxPositions: 1024,
    },
  };
}

export interface BuildOptions {
  /** Delete and rebuild even when a matching package exists. */
  rebuild?: boolean;
  log?: (line: string) => void;
}

export interface BuiltPackage {
  dir: string;
  manifest: Manifest;
  /** Sum of the manifest's files. */
  bytes: number;
  /** Build time in ms, or null when reused. */
  builtMs: number | null;
}

const modelDir = (spec: ModelSpec) => join(BENCH_MODEL_ROOT, spec.name);
const wantConfig = (spec: ModelSpec) =>
  tinyConfigJson(resolveTinyOptions({ out: modelDir(spec), seed: 0, ...spec.shape }));

function sameJson(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return false;
  return true;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Drops models/bench-model/<model> (checkpoint and every package) once per process when rebuilding. */
const cleared = new Set<string>();
async function clearOnRebuild(spec: ModelSpec, opts: BuildOptions): Promise<void> {
  if (!opts.rebuild || cleared.has(spec.name)) return;
  cleared.add(spec.name);
  await rm(modelDir(spec), { recursive: true, force: true });
}

/** The model's checkpoint dir, written by make-tiny-model unless a matching one is there. */
export async function ensureCheckpoint(spec: ModelSpec, opts: BuildOptions = {}): Promise<string> {
  await clearOnRebuild(spec, opts);
  const dir = join(modelDir(spec), 'checkpoint');
  const config = await readJson<Record<string, unknown>>(join(dir, 'config.json'));
  if (
    config &&
    sameJson(config, wantConfig(spec)) &&
    (await exists(join(dir, 'model.safetensors'))) &&
    (await exists(join(dir, 'tokenizer.json')))
  )
    return dir;
  opts.log?.(`${spec.name}: writing random checkpoint (${spec.description})`);
  await makeTinyModel({ out: dir, seed: 0, ...spec.shape });
  return dir;
}

/** The exported package for (model, variant), built from the checkpoint unless a matching one is there. */
export async function ensurePackage(
  spec: ModelSpec,
  variant: Variant,
  opts: BuildOptions = {},
): Promise<BuiltPackage> {
  await clearOnRebuild(spec, opts);
  const dir = join(modelDir(spec), variant.label);
  const have = parsedManifest(await readJson<unknown>(join(dir, 'manifest.json')));
  if (have && matches(have, spec, variant))
    return { dir, manifest: have, bytes: totalBytes(have), builtMs: null };
  const started = performance.now();
  const checkpointDir = await ensureCheckpoint(spec, opts);
  opts.log?.(`${spec.name}: exporting ${variant.label} (moe ${variant.moe})`);
  const manifest = await exportPackage({
    checkpointDir,
    outDir: dir,
    force: true,
    dtype: variant.dtype,
    int4Layout: variant.int4Layout ?? 'dq',
    kernel: variant.kernel,
    embeddings: variant.embeddings,
    lmHead: variant.lmHead,
    moe: variant.moe,
    externalData: 'auto',
    name: `bench-${spec.name}-${variant.label}`,
  });
  return { dir, manifest, bytes: totalBytes(manifest), builtMs: performance.now() - started };
}

function parsedManifest(raw: unknown): Manifest | undefined {
  try {
    return raw === undefined ? undefined : parseManifest(raw);
  } catch {
    return undefined;
  }
}

function matches(m: Manifest, spec: ModelSpec, v: Variant): boolean {
  const cfg = wantConfig(spec);
  const hasMoe = (cfg.first_k_dense_replace as number) < (cfg.num_hidden_layers as number);
  return (
    sameJson(m.config as Record<string, unknown>, cfg) &&
    m.quantization.dtype === v.dtype &&
    (v.dtype !== 'int4' || m.quantization.int4_layout === (v.int4Layout ?? 'dq')) &&
    (v.dtype === 'fp32' || v.dtype === 'fp16' || m.quantization.kernel === (v.kernel ?? 'int8')) &&
    m.quantization.embeddings === (v.embeddings ?? (v.dtype === 'fp32' ? 'fp32' : 'fp16')) &&
    m.quantization.lm_head === (v.lmHead ?? v.dtype) &&
    m.moe.implementation === (hasMoe ? v.moe : 'none')
  );
}

export function totalBytes(m: Manifest): number {
  return m.files.reduce((s, f) => s + f.bytes, 0);
}
