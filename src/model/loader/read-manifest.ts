/** Reads and validates a package's manifest.json through a BlobStore, as ModelLoadErrors. */
import { MANIFEST_FILE, ManifestError, parseManifest, type Manifest } from '../manifest.ts';
import { ModelLoadError, type BlobStore } from '../store.ts';
import type { StorageCall } from './fetch-file.ts';

/** Package paths are relative and stay inside the package (no "..", no absolute or backslash paths). */
export function isSafePackagePath(path: string): boolean {
  return (
    !path.startsWith('/') &&
    !path.includes('\\') &&
    path.split('/').every((s) => s !== '' && s !== '.' && s !== '..')
  );
}

export async function readManifest(store: BlobStore, call: StorageCall): Promise<Manifest> {
  const bytes = await call(() => store.get(MANIFEST_FILE));
  if (!bytes)
    throw new ModelLoadError(
      'missing',
      `no ${MANIFEST_FILE} at ${store.location}: not a model package, or its upload has not finished`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e: unknown) {
    throw new ModelLoadError(
      'format',
      `${MANIFEST_FILE} at ${store.location} is not valid JSON (${(e as Error).message})`,
    );
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest(raw);
  } catch (e: unknown) {
    if (e instanceof ManifestError)
      throw new ModelLoadError('format', `${store.location}: ${e.message}`);
    throw e;
  }
  const bad = manifest.files.find((f) => !isSafePackagePath(f.path));
  if (bad)
    throw new ModelLoadError(
      'format',
      `${store.location}: ${MANIFEST_FILE}: file path ${JSON.stringify(bad.path)} leaves the package`,
    );
  return manifest;
}
