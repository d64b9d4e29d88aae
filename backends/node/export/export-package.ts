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
import type { Int4Layout, WeightDtype } from '../../../src/export/quantize.ts';
import type { MoeImplementation } from '../../../src/export/moe.ts';

export const GRAPH_FILE = 'model.onnx';
export const WEIGHTS_FILE = 'model.onnx.data';
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;
/** Above this many checkpoint bytes the weights go to an external data file (protobuf's 2 GB limit). */
const INLINE_LIMIT = 512 * 1024 * 1024;

export interface ExportOptions {
  checkpointDir: string;
  outDir: string;
  dtype?: WeightDtype;
  int4Layout?: Int4Layout;
  blockSize?: number;
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
      quant: { dtype, int4Layout, blockSize },
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
      quantization: {
        dtype,
        ...(dtype === 'int4' ? { int4_layout: int4Layout, block_size: blockSize } : {}),
      },
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
        session_config: sessionConfig({
          dtype,
          int4Layout,
          largestMatrix: dims.vocab * dims.hidden,
          expertParameters:
            moe === 'ort-moe'
              ? (dims.layers - dims.denseLayers) *
                cfg.num_experts *
                3 *
                cfg.moe_intermediate_size *
                cfg.hidden_size
              : 0,
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

/** ORT's default: constant folding skips any node whose output would exceed 1 GiB. */
const ORT_FOLDING_LIMIT = 2 ** 30;

/** Quantized experts above this size are not prepacked (see sessionConfig). */
const EXPERT_PREPACK_LIMIT = 4 * 2 ** 30;

/**
 * Session settings the package's encodings rely on:
 * - weights stored as int4/int8 (DequantizeLinear) or fp16 (Cast) are folded into fp32 at load, so they run as
 *   plain MatMuls; the largest of them, the embedding table and the head, reach vocab × hidden × 4 bytes
 *   (1.2 GiB for LLaDA2.0-mini), past ORT's 1 GiB folding limit, which would leave them to be dequantized again
 *   on every forward: the limit is raised to fit them;
 * - onnxruntime 1.30's CPU QMoE kernel prepacks int4/int8 experts into a second, wider copy (measured: 1.3 GiB
 *   of memory per LLaDA2.0-mini layer for 0.5 GiB of int4 weights) for little speed; past 4 GiB of experts
 *   prepacking is turned off, so a 10 GB int4 package serves in about its own size (dense MatMuls then pack
 *   their weights on each run: slower, but the model fits).
 */
export function sessionConfig(o: {
  dtype: WeightDtype;
  int4Layout: Int4Layout;
  /** Elements of the largest weight matrix. */
  largestMatrix: number;
  /** Routed-expert parameters run by the sparse MoE kernels (0 for dense MoE). */
  expertParameters: number;
}): Record<string, string> {
  const config: Record<string, string> = {};
  // Fold DequantizeLinear into fp32 weights at load instead of running QDQ kernels (docs/model-graph.md §6).
  if (o.dtype === 'int8' || (o.dtype === 'int4' && o.int4Layout === 'dq'))
    config['session.disable_quant_qdq'] = '1';
  if (o.dtype !== 'fp32' && 4 * o.largestMatrix > ORT_FOLDING_LIMIT)
    config['optimization.constant_folding_max_output_size_in_bytes'] = String(4 * o.largestMatrix);
  const bytesPerParameter = o.dtype === 'int4' ? 0.5 : o.dtype === 'int8' ? 1 : 0;
  if (o.expertParameters * bytesPerParameter > EXPERT_PREPACK_LIMIT)
    config['session.disable_prepacking'] = '1';
  return config;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
