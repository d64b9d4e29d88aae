/**
 * @module
 * The local packages `bench:quality` compares: each opened with the chosen runtime (ORT-node, or ORT-web WASM
 * in Node, the Worker's build), with its size and, for WASM, the heap a Worker isolate would hold for it.
 */
import { basename, resolve } from 'node:path';
import { modelCodec, openModel, type Runtime } from '../../backends/node/open-model.ts';
import { readLocalManifest } from '../../backends/node/stores/disk-package.ts';
import { UsageError } from '../../backends/node/cli.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { evaluateExamples } from '../../training/evaluate.ts';
import { runWasmChild } from '../model/run-wasm-child.ts';
import type { Evaluate } from './sweep.ts';

export interface QualityPackage {
  /** The directory's base name: the package's key in tables and JSON. */
  name: string;
  dir: string;
  manifest: Manifest;
  /** Sum of the manifest's files. */
  bytes: number;
  /**
   * WASM runtime only: WebAssembly.Memory size after session create and after one 32-token forward, measured
   * in a fresh process (the heap only grows, so it is the package's high-water mark, ORT's baseline included).
   */
  wasmHeap: { afterCreate: number | null; afterForward: number | null } | null;
  evaluate: Evaluate;
}

export interface OpenOptions {
  runtime: Runtime;
  mode: 'reference' | 'cached';
  log?: (line: string) => void;
}

/** Opens every package (all stay open, so the sweep can interleave them). Names must be distinct. */
export async function openQualityPackages(
  dirs: string[],
  { runtime, mode, log = () => {} }: OpenOptions,
): Promise<QualityPackage[]> {
  const names = dirs.map((d) => basename(resolve(d)));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined)
    throw new UsageError(
      `two packages are named ${JSON.stringify(dup)}: give each its own directory name`,
    );
  // Every manifest first: a bad directory fails before any session is created.
  for (const dir of dirs) await readLocalManifest(dir);
  const out: QualityPackage[] = [];
  for (const [i, dir] of dirs.entries()) {
    const local = await openModel(dir, { runtime, threads: 1 });
    const codec = modelCodec(local);
    const blockLength = local.manifest.decode.block_length;
    let wasmHeap: QualityPackage['wasmHeap'] = null;
    if (runtime === 'wasm') {
      const child = await runWasmChild(dir, 0, 1);
      wasmHeap = { afterCreate: child.heap.afterCreate, afterForward: child.heap.afterForwards };
    }
    const bytes = local.manifest.files.reduce((s, f) => s + f.bytes, 0);
    log(
      `${names[i]}: ${local.manifest.quantization.dtype}, ${(bytes / 2 ** 20).toFixed(2)} MiB, session ${local.sessionMs.toFixed(0)} ms`,
    );
    out.push({
      name: names[i],
      dir,
      manifest: local.manifest,
      bytes,
      wasmHeap,
      evaluate: (examples, s) =>
        evaluateExamples(local.runner, codec, examples, { ...s, mode, blockLength }),
    });
  }
  return out;
}

/** One line naming a package's encoding, from its manifest (e.g. `int4 dq/32, int8 kernel, emb fp16`). */
export function encodingLabel(m: Manifest): string {
  const q = m.quantization;
  const parts: string[] = [q.dtype];
  if (q.int4_layout) parts[0] += ` ${q.int4_layout}/${q.block_size}`;
  if (q.kernel) parts.push(`${q.kernel} kernel`);
  if (q.embeddings && q.embeddings !== q.dtype) parts.push(`emb ${q.embeddings}`);
  if (q.lm_head && q.lm_head !== q.dtype) parts.push(`head ${q.lm_head}`);
  return parts.join(', ');
}
