/**
 * Opens a model package in Node with either runtime: onnxruntime-node (native CPU) or onnxruntime-web (the
 * WASM build the Worker uses), and wraps it in the shared SessionRunner. `openModel` takes any location
 * (a directory or s3://bucket/prefix, verified through the loader); `openLocalModel` reads a directory as is.
 */
import { packageCodec } from '../../src/model/package-codec.ts';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../../src/model/manifest.ts';
import { SessionRunner, type OrtModule } from '../../src/ort/session-runner.ts';
import { TextCodec } from '../../src/model/text-codec.ts';
import {
  loadPackage,
  type LoadedPackage,
  type LoadPackageOptions,
} from '../../src/model/loader.ts';
import { DiskCache } from './stores/disk-cache.ts';
import { isRemoteLocation, openStore } from './stores/open-store.ts';

export type Runtime = 'node' | 'wasm';
export const RUNTIMES: readonly Runtime[] = ['node', 'wasm'];

type OrtPackage = OrtModule & {
  InferenceSession: typeof InferenceSession;
  env: {
    wasm?: { numThreads?: number; wasmBinary?: ArrayBufferLike | Uint8Array; proxy?: boolean };
  };
};

let webOrt: Promise<OrtPackage> | undefined;

async function loadOrt(runtime: Runtime): Promise<OrtPackage> {
  if (runtime === 'node') return (await import('onnxruntime-node')) as unknown as OrtPackage;
  webOrt ??= (async () => {
    const ort = (await import('onnxruntime-web/wasm')) as unknown as OrtPackage;
    // Hand ORT the wasm bytes directly: one thread, no proxy worker, no fetch of the .wasm URL.
    const wasmPath = createRequire(import.meta.url).resolve(
      'onnxruntime-web/ort-wasm-simd-threaded.wasm',
    );
    ort.env.wasm!.numThreads = 1;
    ort.env.wasm!.proxy = false;
    ort.env.wasm!.wasmBinary = await readFile(wasmPath);
    return ort;
  })();
  return webOrt;
}

export async function readLocalManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    throw new Error(`no ${MANIFEST_FILE} in ${dir}: not a model package`);
  }
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

export async function openLocalModel(
  dir: string,
  opts: LocalSessionOptions = {},
): Promise<LocalModel> {
  const manifest = await readLocalManifest(dir);
  await loadOrt(opts.runtime ?? 'node'); // loadMs covers reading and session creation, not the runtime import
  const started = performance.now();
  const graph = new Uint8Array(await readFile(join(dir, manifest.graph.file)));
  const externalData = await Promise.all(
    manifest.graph.external_data.map(async (path) => ({
      path,
      data: new Uint8Array(await readFile(join(dir, path))),
    })),
  );
  return createModel(manifest, graph, externalData, opts, started);
}

export interface OpenModelOptions extends LocalSessionOptions {
  /** Verified-file cache for remote packages (default: DiskCache in $UNMASK_CACHE_DIR; false = none). Local dirs are never cached. */
  cache?: LoadPackageOptions['cache'] | false;
  /** Environment for S3 settings (default process.env). */
  env?: Record<string, string | undefined>;
  memoryBudgetBytes?: number;
  onProgress?: LoadPackageOptions['onProgress'];
}

export interface OpenedModel extends LocalModel {
  /** The package's verified files (tokenizer included), by path. */
  files: Map<string, Uint8Array>;
  location: string;
}

/**
 * Opens a package from a directory or s3://bucket/prefix: openStore → loadPackage (sizes and sha256
 * verified; remote files through the disk cache) → an ORT session from the in-memory bytes.
 * @example const model = await openModel('s3://models/tiny', { runtime: 'wasm' })
 */
export async function openModel(
  location: string,
  opts: OpenModelOptions = {},
): Promise<OpenedModel> {
  const remote = isRemoteLocation(location);
  const cache =
    opts.cache === false || !remote ? undefined : (opts.cache ?? new DiskCache({ env: opts.env }));
  const store = openStore(location, { env: opts.env });
  const pkg = await loadPackage(store, {
    cache,
    memoryBudgetBytes: opts.memoryBudgetBytes,
    onProgress: opts.onProgress,
  });
  return { ...(await modelFromPackage(pkg, opts)), files: pkg.files, location: store.location };
}

/** An ORT session over a package already in memory (from loadPackage, through any store). */
export async function modelFromPackage(
  { manifest, files }: LoadedPackage,
  opts: LocalSessionOptions = {},
): Promise<LocalModel> {
  await loadOrt(opts.runtime ?? 'node');
  const started = performance.now();
  const externalData = manifest.graph.external_data.map((path) => ({
    path,
    data: files.get(path)!,
  }));
  return createModel(manifest, files.get(manifest.graph.file)!, externalData, opts, started);
}

/** The tokenizer and chat template of a package opened with openModel. */
export function openModelCodec(model: Pick<OpenedModel, 'files' | 'manifest'>): TextCodec {
  return packageCodec(model.manifest, model.files);
}

async function createModel(
  manifest: Manifest,
  graph: Uint8Array,
  externalData: { path: string; data: Uint8Array }[],
  opts: LocalSessionOptions,
  started: number,
): Promise<LocalModel> {
  const runtime = opts.runtime ?? 'node';
  const ort = await loadOrt(runtime);
  const options: InferenceSession.SessionOptions = {
    executionProviders: [runtime === 'node' ? 'cpu' : 'wasm'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(externalData.length ? { externalData } : {}),
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    extra: {
      session: Object.fromEntries(
        Object.entries(manifest.graph.session_config).map(([k, v]) => [
          k.replace(/^session\./, ''),
          v,
        ]),
      ),
    },
  };
  const session = await ort.InferenceSession.create(graph, options);
  return {
    manifest,
    runner: new SessionRunner({ ort, session, manifest }),
    session,
    runtime,
    loadMs: performance.now() - started,
  };
}

/** The package's tokenizer and chat template. */
export async function openLocalCodec(dir: string, manifest: Manifest): Promise<TextCodec> {
  const json = JSON.parse(await readFile(join(dir, manifest.tokenizer.file), 'utf8'));
  const config = JSON.parse(await readFile(join(dir, manifest.tokenizer.config_file), 'utf8'));
  return new TextCodec(json, config);
}
