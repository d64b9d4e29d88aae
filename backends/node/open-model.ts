/**
 * Opens a model package on Node: the one entry point of the servers, the CLIs, the benchmarks and the tests.
 *
 * The package (a directory, or s3://bucket/prefix through the disk cache) is verified file by file on disk
 * (stores/disk-package.ts: sizes and streamed sha256, never a whole file in memory). Then:
 * - runtime 'node' (default): an onnxruntime-node session created from the graph's *path*, so ORT reads the graph
 *   and maps its external data itself; the weights never pass through JS memory, whatever their size. Execution
 *   providers are tried in the configured order (cuda → webgpu → cpu), CPU always last.
 * - runtime 'wasm': the onnxruntime-web build the Worker runs. It takes bytes, so the graph and external data are
 *   read into memory and copied into its heap; wasm32 caps that heap at 4 GiB, so larger packages are refused.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import type { Manifest } from '../../src/model/manifest.ts';
import { packageCodec } from '../../src/model/package-codec.ts';
import type { TextCodec } from '../../src/model/text-codec.ts';
import { SessionRunner } from '../../src/ort/session-runner.ts';
import { sessionOptions, type ExecutionProvider } from '../../src/ort/session-options.ts';
import { nativeOrt, wasmOrt, type OrtPackage } from './node-ort.ts';
import {
  diskPackage,
  readPackageFile,
  stampsFor,
  type DiskPackageOptions,
} from './stores/disk-package.ts';
import { DiskCache } from './stores/disk-cache.ts';
import { openStore } from './stores/open-store.ts';

export type Runtime = 'node' | 'wasm';
export const RUNTIMES: readonly Runtime[] = ['node', 'wasm'];
/** onnxruntime-node's execution providers, in the default order of preference. */
export const PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** The wasm32 heap limit: onnxruntime-web cannot hold a package larger than this. */
export const WASM_MAX_PACKAGE_BYTES = 4 * 2 ** 30;

export interface OpenModelOptions {
  /** Default 'node'. */
  runtime?: Runtime;
  /** runtime 'node': providers tried in order; 'cpu' is appended when absent. Default ['cpu']. */
  providers?: readonly Provider[];
  /** CUDA device ordinal (default 0). */
  deviceId?: number;
  /** Intra-op threads of the CPU provider (benchmarks pin this; default: ORT's choice). */
  threads?: number;
  /** Where remote files are kept (default: a DiskCache from `env`). Local directories are used in place. */
  cache?: DiskCache;
  /** Environment for S3 settings and the cache defaults (default process.env). */
  env?: Record<string, string | undefined>;
  /** Download and verification progress. */
  onProgress?: DiskPackageOptions['onProgress'];
  /** Storage tuning (tests shorten the retry backoff). */
  storage?: Omit<DiskPackageOptions, 'cache' | 'onProgress'>;
  /** One line per event: provider tried, failed, used. */
  log?: (line: string) => void;
}

export interface OpenedModel {
  manifest: Manifest;
  runner: SessionRunner;
  session: InferenceSession;
  runtime: Runtime;
  /** The execution provider the session runs on ('wasm' for runtime 'wasm'). */
  provider: ExecutionProvider;
  /** The tokenizer and its config, verified, by package path (the weights stay on disk). */
  files: Map<string, Uint8Array>;
  /** The verified package on disk: a local package's own directory, or links into the disk cache. */
  dir: string;
  location: string;
  /** Reading and verifying (and for a remote package downloading) the files. */
  fetchMs: number;
  /** Creating the session (for runtime 'wasm' including reading the bytes it is created from). */
  sessionMs: number;
  /** Releases the session and this process's lease on the package's cache files. */
  close(): Promise<void>;
}

/**
 * @example const model = await openModel('s3://models/llada2-mini', { providers: ['cuda', 'webgpu'] })
 */
export async function openModel(
  location: string,
  opts: OpenModelOptions = {},
): Promise<OpenedModel> {
  const { runtime = 'node', env = process.env, log = () => {} } = opts;
  const t0 = performance.now();
  const store = openStore(location, { env });
  const cache = opts.cache ?? new DiskCache({ env });
  const pkg = await diskPackage(store, {
    ...opts.storage,
    cache,
    stamps: stampsFor(cache, env),
    onProgress: opts.onProgress,
  });
  const { manifest, dir } = pkg;
  const files = new Map<string, Uint8Array>();
  for (const path of [manifest.tokenizer.file, manifest.tokenizer.config_file])
    files.set(path, await readPackageFile(pkg, path));
  const fetchMs = performance.now() - t0;
  const t1 = performance.now();
  const { ort, session, provider } = await (
    runtime === 'wasm' ? wasmSession(manifest, dir) : nativeSession(manifest, dir, { ...opts, log })
  ).catch(async (e: unknown) => {
    await pkg.release();
    throw e;
  });
  return {
    manifest,
    runner: new SessionRunner({ ort, session, manifest }),
    session,
    runtime,
    provider,
    files,
    dir,
    location: store.location,
    fetchMs,
    sessionMs: performance.now() - t1,
    async close() {
      await session.release();
      await pkg.release();
    },
  };
}

/** The tokenizer and chat template of an opened package. */
export function modelCodec(model: Pick<OpenedModel, 'files' | 'manifest'>): TextCodec {
  return packageCodec(model.manifest, model.files);
}

interface OpenedSession {
  ort: OrtPackage;
  session: InferenceSession;
  provider: ExecutionProvider;
}

async function nativeSession(
  manifest: Manifest,
  dir: string,
  opts: OpenModelOptions & { log: (line: string) => void },
): Promise<OpenedSession> {
  const { deviceId = 0, threads, log } = opts;
  const ort = await nativeOrt();
  // By path: onnxruntime reads the graph and maps its external data files (next to it) itself.
  const graph = join(dir, manifest.graph.file);
  const order: Provider[] = [...new Set([...(opts.providers ?? ['cpu']), 'cpu' as const])];
  for (const [i, provider] of order.entries()) {
    try {
      const options = sessionOptions(manifest, { provider, deviceId, threads });
      const session = await ort.InferenceSession.create(graph, options);
      log(`execution provider: ${provider}${provider === 'cuda' ? ` (device ${deviceId})` : ''}`);
      return { ort, session, provider };
    } catch (e: unknown) {
      if (provider === 'cpu') throw e;
      const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200);
      log(`execution provider ${provider} unavailable (${reason}); trying ${order[i + 1]}`);
    }
  }
  throw new Error('no execution provider could load the model'); // unreachable: cpu is last and throws
}

async function wasmSession(manifest: Manifest, dir: string): Promise<OpenedSession> {
  const total = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
  if (total > WASM_MAX_PACKAGE_BYTES)
    throw new Error(
      `${manifest.name}: the wasm runtime holds the whole package in its 4 GiB heap, and this one has ${(total / 2 ** 30).toFixed(1)} GiB: use runtime node`,
    );
  const { ort } = await wasmOrt();
  const bytes = async (path: string) => {
    const b = await readFile(join(dir, path));
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };
  const externalData = await Promise.all(
    manifest.graph.external_data.map(async (path) => ({ path, data: await bytes(path) })),
  );
  const options = sessionOptions(manifest, { provider: 'wasm', externalData });
  const session = await ort.InferenceSession.create(await bytes(manifest.graph.file), options);
  return { ort: ort as unknown as OrtPackage, session, provider: 'wasm' };
}
