/**
 * Opens a local model package in Node with either runtime: onnxruntime-node (native CPU) or
 * onnxruntime-web (the WASM build the Worker uses), and wraps it in the shared SessionRunner.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../../src/model/manifest.ts';
import { SessionRunner, type OrtModule } from '../../src/ort/session-runner.ts';
import { TextCodec } from '../../src/model/text-codec.ts';

export type Runtime = 'node' | 'wasm';
export const RUNTIMES: readonly Runtime[] = ['node', 'wasm'];

type OrtPackage = OrtModule & { InferenceSession: typeof InferenceSession; env: { wasm?: { numThreads?: number; wasmBinary?: ArrayBufferLike | Uint8Array; proxy?: boolean } } };

let webOrt: Promise<OrtPackage> | undefined;

async function loadOrt(runtime: Runtime): Promise<OrtPackage> {
  if (runtime === 'node') return (await import('onnxruntime-node')) as unknown as OrtPackage;
  webOrt ??= (async () => {
    const ort = (await import('onnxruntime-web/wasm')) as unknown as OrtPackage;
    // Hand ORT the wasm bytes directly: one thread, no proxy worker, no fetch of the .wasm URL.
    const wasmPath = createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm');
    ort.env.wasm!.numThreads = 1;
    ort.env.wasm!.proxy = false;
    ort.env.wasm!.wasmBinary = await readFile(wasmPath);
    return ort;
  })();
  return webOrt;
}

export async function readLocalManifest(dir: string): Promise<Manifest> {
  let text: string;
  try { text = await readFile(join(dir, MANIFEST_FILE), 'utf8'); } catch { throw new Error(`no ${MANIFEST_FILE} in ${dir}: not a model package`); }
  return parseManifest(JSON.parse(text));
}

export interface LocalSessionOptions {
  runtime?: Runtime;
  /** ORT-node intra-op threads (benchmarks pin this). */
  threads?: number;
}

export interface LocalModel {
  manifest: Manifest;
  runner: SessionRunner;
  session: InferenceSession;
  runtime: Runtime;
  /** Session creation time in ms. */
  loadMs: number;
}

export async function openLocalModel(dir: string, opts: LocalSessionOptions = {}): Promise<LocalModel> {
  const runtime = opts.runtime ?? 'node';
  const manifest = await readLocalManifest(dir);
  const ort = await loadOrt(runtime);
  const started = performance.now();
  const graph = await readFile(join(dir, manifest.graph.file));
  const externalData = await Promise.all(manifest.graph.external_data.map(async (path) => ({ path, data: new Uint8Array(await readFile(join(dir, path))) })));
  const options: InferenceSession.SessionOptions = {
    executionProviders: [runtime === 'node' ? 'cpu' : 'wasm'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(externalData.length ? { externalData } : {}),
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    extra: { session: Object.fromEntries(Object.entries(manifest.graph.session_config).map(([k, v]) => [k.replace(/^session\./, ''), v])) },
  };
  const session = await ort.InferenceSession.create(new Uint8Array(graph), options);
  return { manifest, runner: new SessionRunner({ ort, session, manifest }), session, runtime, loadMs: performance.now() - started };
}

/** The package's tokenizer and chat template. */
export async function openLocalCodec(dir: string, manifest: Manifest): Promise<TextCodec> {
  const json = JSON.parse(await readFile(join(dir, manifest.tokenizer.file), 'utf8'));
  const config = JSON.parse(await readFile(join(dir, manifest.tokenizer.config_file), 'utf8'));
  return new TextCodec(json, config);
}
