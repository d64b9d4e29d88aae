/**
 * An ORT session from a package held in memory (graph bytes + external data + the manifest's session_config),
 * for any injected ORT module: onnxruntime-web in workerd and in the playground's browser mode, or in Node for
 * tests and benchmarks.
 */
import { PackageFilesError, packageFile } from '../model/package-codec.ts';
import type { InferenceSession } from 'onnxruntime-common';
import type { Manifest } from '../model/manifest.ts';

/** What a loader hands over: the manifest and the package's files by path. */
export interface PackageBytes {
  manifest: Manifest;
  files: Map<string, Uint8Array>;
}

/** The part of an ORT package that creates sessions. */
export interface SessionFactory {
  InferenceSession: {
    create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
}

export { PackageFilesError };

const file = (pkg: PackageBytes, path: string): Uint8Array =>
  packageFile(pkg.manifest, pkg.files, path);

/**
 * Session options for the wasm EP, the same as backends/node/local-package.ts uses for Node: the manifest's
 * session_config with the `session.` prefix stripped goes to `extra.session` (e.g. `disable_quant_qdq: '1'`, which
 * makes ORT fold the int4 DequantizeLinear layout into fp32 weights at load).
 */
export function wasmSessionOptions(
  manifest: Manifest,
  externalData: { path: string; data: Uint8Array }[] = [],
  executionProviders: InferenceSession.ExecutionProviderConfig[] = ['wasm'],
): InferenceSession.SessionOptions {
  const session = Object.fromEntries(
    Object.entries(manifest.graph.session_config).map(([k, v]) => [k.replace(/^session\./, ''), v]),
  );
  return {
    executionProviders,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(externalData.length ? { externalData } : {}),
    extra: { session },
  };
}

/**
 * Creates the package's session (on the wasm EP unless told otherwise, e.g. ['webgpu'] in a browser). ORT copies
 * the bytes into its heap, so callers may drop `pkg` afterwards.
 */
export async function createSession(
  ort: SessionFactory,
  pkg: PackageBytes,
  executionProviders?: InferenceSession.ExecutionProviderConfig[],
): Promise<InferenceSession> {
  const { manifest } = pkg;
  const graph = file(pkg, manifest.graph.file);
  const externalData = manifest.graph.external_data.map((path) => ({
    path,
    data: file(pkg, path),
  }));
  return ort.InferenceSession.create(
    graph,
    wasmSessionOptions(manifest, externalData, executionProviders),
  );
}
