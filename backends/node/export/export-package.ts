/**
 * HF checkpoint dir → Unmask model package (manifest.json, model.onnx [+ model.onnx.data], tokenizer files).
 * Written into a temp dir beside the target and renamed at the end, so a failure never leaves half a package.
 */
import { copyFile, mkdir, rename, rm, stat, writeFile, access } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { openCheckpoint } from './checkpoint.ts';
import { sha256File } from '../sha256-file.ts';
import {
  LLADA2_DEFAULT_EOS_ID,
  LLADA2_DEFAULT_MASK_ID,
  modelDims,
} from '../../../src/model/config.ts';
import * as io from '../../../src/model/graph-io.ts';
import {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_FORMAT_VERSION,
  type Manifest,
  type PackageFile,
} from '../../../src/model/manifest.ts';
import { GraphBuilder, OPSET } from '../../../src/export/onnx-builder.ts';
import { InlineSink, type WeightSink } from '../../../src/export/weight-sink.ts';
import { ExternalFileSink } from './external-file-sink.ts';
import { ExportError, Llada2GraphBuilder } from '../../../src/export/llada2-graph.ts';
import { sessionConfig } from './session-config.ts';
import {
  embeddingDtype,
  type EmbeddingDtype,
  type Int4Layout,
  type QuantKernel,
  type QuantOptions,
  type WeightDtype,
} from '../../../src/export/quantize.ts';
import type { MoeImplementation } from '../../../src/export/moe.ts';

export const GRAPH_FILE = 'model.onnx';
export const WEIGHTS_FILE = 'model.onnx.data';
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;
/** kernel auto: int8 kernels from this hidden size up (bench:model / docs/quantization.md). */
export const AUTO_INT8_HIDDEN = 256;
/**
 * Above this many checkpoint bytes the weights go to an external data file. Besides protobuf's 2 GB limit, inline
 * weights are slow to load: a 473 MiB package took 9.2 s to open in onnxruntime-node inline, 0.44 s external, and
 * ORT-web's heap halved (docs/node.md, "Opening a package").
 */
const INLINE_LIMIT = 32 * 1024 * 1024;

export interface ExportOptions {
  checkpointDir: string;
  outDir: string;
  dtype?: WeightDtype;
  int4Layout?: Int4Layout;
  blockSize?: number;
  /**
   * How int8/int4-dq weights compute: int8 kernels, or dequantized to fp32 at load. auto (default): int8 from
   * hidden size AUTO_INT8_HIDDEN up, where the integer GEMM beats fp32; below it the per-token activation
   * quantization costs more than it saves and fp32 weights run faster.
   */
  kernel?: QuantKernel | 'auto';
  /** MSE-optimal block scales (default true). */
  scaleSearch?: boolean;
  embeddings?: EmbeddingDtype;
  lmHead?: WeightDtype;
  topk?: number;
  moe?: MoeImplementation | 'auto';
  externalData?: 'auto' | 'always' | 'never';
  blockLength?: number;
  name?: string;
  force?: boolean;
  onProgress?: (done: number, total: number, what: string) => void;
}

export async function exportPackage(opts: ExportOptions): Promise<Manifest> {
  const outDir = resolve(opts.outDir);
  const dtype = opts.dtype ?? 'fp32';
  const int4Layout = opts.int4Layout ?? 'dq';
  const blockSize = opts.blockSize ?? 32;
  if ((await exists(outDir)) && !opts.force)
    throw new ExportError(`${outDir} already exists (use --force to replace it)`);
  const ckpt = await openCheckpoint(opts.checkpointDir);
  for (const f of TOKENIZER_FILES) {
    if (!(await exists(join(opts.checkpointDir, f))))
      throw new ExportError(`missing ${f} in ${opts.checkpointDir}`);
  }
  const cfg = ckpt.config;
  const dims = modelDims(cfg);
  const topk = Math.min(opts.topk ?? 64, dims.vocab);
  const quant: QuantOptions = {
    dtype,
    int4Layout,
    blockSize,
    kernel:
      !opts.kernel || opts.kernel === 'auto'
        ? dims.hidden >= AUTO_INT8_HIDDEN
          ? 'int8'
          : 'float'
        : opts.kernel,
    scaleSearch: opts.scaleSearch ?? true,
    embeddings: opts.embeddings,
    lmHead: opts.lmHead,
  };
  // auto: the sparse kernel, which computes only the chosen experts; dense is for debugging tiny configs.
  const moe: MoeImplementation = !opts.moe || opts.moe === 'auto' ? 'ort-moe' : opts.moe;
  const tmp = join(dirname(outDir), `.${basename(outDir)}.tmp-${process.pid}-${Date.now()}`);
  await mkdir(tmp, { recursive: true });
  let sink: WeightSink | undefined;
  try {
    const external =
      opts.externalData === 'always' ||
      (opts.externalData !== 'never' && ckpt.totalBytes() > INLINE_LIMIT);
    sink = external
      ? new ExternalFileSink(join(tmp, WEIGHTS_FILE), WEIGHTS_FILE)
      : new InlineSink();
    const b = new GraphBuilder(sink);
    await new Llada2GraphBuilder(b, cfg, ckpt, {
      quant,
      topk,
      moe,
      onProgress: opts.onProgress,
    }).build();
    sink.close();
    await writeFile(join(tmp, GRAPH_FILE), b.encode());
    for (const f of TOKENIZER_FILES) await copyFile(join(opts.checkpointDir, f), join(tmp, f));
    await writeFile(join(tmp, 'config.json'), JSON.stringify(ckpt.rawConfig, null, 2));

    const roles: Record<string, PackageFile['role']> = {
      [GRAPH_FILE]: 'graph',
      [WEIGHTS_FILE]: 'weights',
      'tokenizer.json': 'tokenizer',
      'tokenizer_config.json': 'tokenizer_config',
      'config.json': 'config',
    };
    const files: PackageFile[] = [];
    for (const path of [
      GRAPH_FILE,
      ...(external ? [WEIGHTS_FILE] : []),
      ...TOKENIZER_FILES,
      'config.json',
    ]) {
      const full = join(tmp, path);
      files.push({
        path,
        bytes: (await stat(full)).size,
        sha256: await sha256File(full),
        role: roles[path],
      });
    }
    const graphDims: io.GraphDims = {
      layers: dims.layers,
      kvHeads: dims.kvHeads,
      headDim: dims.headDim,
      vocab: dims.vocab,
      topk,
    };
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      format_version: MANIFEST_FORMAT_VERSION,
      name: opts.name ?? basename(outDir),
      architecture: 'llada2_moe',
      config: ckpt.rawConfig,
      tokens: {
        mask_id: cfg.mask_token_id ?? LLADA2_DEFAULT_MASK_ID,
        eos_id: cfg.eos_token_id ?? LLADA2_DEFAULT_EOS_ID,
        vocab_size: dims.vocab,
      },
      decode: { block_length: opts.blockLength ?? 32, max_positions: cfg.max_position_embeddings },
      quantization: quantizationManifest(quant),
      moe: { implementation: dims.denseLayers >= dims.layers ? 'none' : moe },
      graph: {
        file: GRAPH_FILE,
        external_data: external ? [WEIGHTS_FILE] : [],
        opset: OPSET,
        topk,
        layers: dims.layers,
        kv_heads: dims.kvHeads,
        head_dim: dims.headDim,
        inputs: io.graphInputs(graphDims),
        outputs: io.graphOutputs(graphDims),
        // Folding of quantized weights at load, ORT's folding limit, QMoE prepacking (session-config.ts).
        session_config: sessionConfig(quant, {
          vocab: dims.vocab,
          hidden: dims.hidden,
          sparseMoeLayers: moe === 'ort-moe' ? dims.layers - dims.denseLayers : 0,
          experts: cfg.num_experts,
          moeIntermediate: cfg.moe_intermediate_size,
        }),
      },
      tokenizer: { file: 'tokenizer.json', config_file: 'tokenizer_config.json' },
      files,
      created_by: 'unmask export-onnx',
    };
    await writeFile(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2));
    if (await exists(outDir)) await rm(outDir, { recursive: true, force: true });
    await rename(tmp, outDir);
    return manifest;
  } catch (e: unknown) {
    try {
      sink?.close();
    } catch {
      /* already closed */
    }
    await rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    await ckpt.close();
  }
}

/** The manifest's record of how each weight class is stored and computed. */
function quantizationManifest(q: QuantOptions): Manifest['quantization'] {
  const usesInt4 = q.dtype === 'int4' || q.lmHead === 'int4';
  const quantized = usesInt4 || q.dtype === 'int8' || q.lmHead === 'int8';
  return {
    dtype: q.dtype,
    ...(usesInt4
      ? { int4_layout: q.int4Layout, block_size: q.blockSize, scale_search: q.scaleSearch }
      : {}),
    ...(quantized ? { kernel: q.kernel } : {}),
    embeddings: embeddingDtype(q),
    lm_head: q.lmHead ?? q.dtype,
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
