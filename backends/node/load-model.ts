/**
 * Opens a model package for the GPU server and the Node API: a local directory or s3://bucket/prefix, verified
 * file by file on disk (stores/disk-package.ts: remote files are streamed into the disk cache, never held whole
 * in memory, so packages of tens of GB load), then an onnxruntime-node session from the graph's path on the first
 * execution provider that works, in the configured order, with CPU as the last resort.
 */
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import type { Manifest } from '../../src/model/manifest.ts';
import { SessionRunner, type OrtModule } from '../../src/ort/session-runner.ts';
import { diskPackage, readPackageFile } from './stores/disk-package.ts';
import { openStore } from './stores/open-store.ts';

export const PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;
export type Provider = (typeof PROVIDERS)[number];

type OrtNode = OrtModule & { InferenceSession: typeof InferenceSession };

export interface LoadModelOptions {
  /** A package directory or s3://bucket/prefix. */
  location: string;
  /** Tried in order; 'cpu' is appended when absent. Default ['cuda', 'cpu']. */
  providers?: readonly Provider[];
  /** CUDA device ordinal (default 0). */
  deviceId?: number;
  /** Intra-op threads of the CPU provider (default: ORT's choice). */
  threads?: number;
  /** One line per event (provider tried, provider failed, provider used). */
  log?: (line: string) => void;
}

export interface LoadedModel {
  manifest: Manifest;
  runner: SessionRunner;
  session: InferenceSession;
  provider: Provider;
  /** The tokenizer and its config, verified, by package path (the weights stay on disk). */
  files: Map<string, Uint8Array>;
  /** The verified package on disk (a local package's own directory, or links into the disk cache). */
  dir: string;
  /** Downloading and verifying the package, and creating the session. */
  fetchMs: number;
  sessionMs: number;
}

function providerConfig(p: Provider, deviceId: number): InferenceSession.ExecutionProviderConfig {
  return p === 'cuda' ? { name: 'cuda', deviceId } : p;
}

/** @example const m = await loadModel({ location: 's3://models/llada2-mini', providers: ['cuda'] }) */
export async function loadModel({
  location,
  providers = ['cuda', 'cpu'],
  deviceId = 0,
  threads,
  log = () => {},
}: LoadModelOptions): Promise<LoadedModel> {
  const t0 = performance.now();
  const pkg = await diskPackage(openStore(location));
  const { manifest, dir } = pkg;
  const files = new Map<string, Uint8Array>();
  for (const path of [manifest.tokenizer.file, manifest.tokenizer.config_file])
    files.set(path, await readPackageFile(pkg, path));
  const fetchMs = performance.now() - t0;
  const ort = (await import('onnxruntime-node')) as unknown as OrtNode;
  // By path: onnxruntime reads the graph and maps its external data files (next to it) itself.
  const graph = join(dir, manifest.graph.file);
  const order: Provider[] = [...new Set([...providers, 'cpu' as const])];
  for (const provider of order) {
    const t1 = performance.now();
    const options: InferenceSession.SessionOptions = {
      executionProviders: [providerConfig(provider, deviceId)],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      ...(threads ? { intraOpNumThreads: threads } : {}),
      extra: {
        session: Object.fromEntries(
          Object.entries(manifest.graph.session_config).map(([k, v]) => [
            k.replace(/^session\./, ''),
            v,
          ]),
        ),
      },
    };
    try {
      const session = await ort.InferenceSession.create(graph, options);
      log(`execution provider: ${provider}${provider === 'cuda' ? ` (device ${deviceId})` : ''}`);
      return {
        manifest,
        runner: new SessionRunner({ ort, session, manifest }),
        session,
        provider,
        files,
        dir,
        fetchMs,
        sessionMs: performance.now() - t1,
      };
    } catch (e: unknown) {
      const next = order[order.indexOf(provider) + 1];
      log(
        `execution provider ${provider} unavailable (${(e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200)})${next ? `; trying ${next}` : ''}`,
      );
      if (provider === 'cpu') throw e;
    }
  }
  throw new Error('no execution provider could load the model');
}
