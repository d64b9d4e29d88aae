/**
 * An ORT session from a package held in memory (graph bytes + external data; options from session-options.ts), for
 * any injected ORT module: onnxruntime-web in workerd and in the playground's browser mode, or in Node for tests
 * and benchmarks.
 */
import { PackageFilesError, packageFile } from '../model/package-codec.ts';
import type { InferenceSession } from 'onnxruntime-common';
import type { Manifest } from '../model/manifest.ts';
import { sessionOptions, type ExecutionProvider } from './session-options.ts';

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
 * Creates the package's session (on the wasm EP unless told otherwise, e.g. 'webgpu' in a browser). ORT copies
 * the bytes into its heap, so callers may drop `pkg` afterwards.
 */
export async function createSession(
  ort: SessionFactory,
  pkg: PackageBytes,
  provider: ExecutionProvider = 'wasm',
): Promise<InferenceSession> {
  const { manifest } = pkg;
  const graph = file(pkg, manifest.graph.file);
  const externalData = manifest.graph.external_data.map((path) => ({
    path,
    data: file(pkg, path),
  }));
  return ort.InferenceSession.create(graph, sessionOptions(manifest, { provider, externalData }));
}
