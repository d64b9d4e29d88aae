/**
 * Loads a model package into memory through any BlobStore (S3, R2, local files): manifest first, a memory
 * budget check before any download, every file verified (size, sha256) before it is used or cached.
 * Pure Web APIs (crypto.subtle), so it runs in workerd, Node and browsers.
 */
import type { Manifest } from './manifest.ts';
import { ModelLoadError, type BlobStore, type FileCache } from './store.ts';
import { describeFile, fetchFile, type StorageCall } from './loader/fetch-file.ts';
import { createConcurrencyLimit } from './loader/concurrency.ts';
import { readManifest } from './loader/read-manifest.ts';
import { withRetry, type StorageRetryOptions } from './loader/retry.ts';
import { sha256Hex } from './loader/sha256.ts';

export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_RANGE_CHUNK_BYTES = 8 * 1024 * 1024;

export interface LoadPackageOptions {
  /** Verified files by sha256: read before downloading, written after verification. Default: none. */
  cache?: FileCache;
  /** Refuse packages whose files add up to more than this many bytes, before downloading. Default: no limit. */
  memoryBudgetBytes?: number;
  /** Storage requests in flight at once, across files and chunks (default 8). */
  concurrency?: number;
  /** Files above this size are fetched as parallel ranged GETs of this size (default 8 MiB). */
  rangeChunkBytes?: number;
  /** Extra attempts for a transient storage error (default 4), with exponential backoff and jitter. */
  retries?: number;
  /** Backoff tuning (tests shorten it). */
  retry?: Omit<StorageRetryOptions, 'retries'>;
  /** Bytes done (cache hits included) of the package total, and the file that advanced. */
  onProgress?: (doneBytes: number, totalBytes: number, file: string) => void;
}

export interface LoadedPackage {
  manifest: Manifest;
  /** Verified bytes of every manifest file, by package path. */
  files: Map<string, Uint8Array>;
}

export function packageBytes(manifest: Manifest): number {
  return manifest.files.reduce((sum, f) => sum + f.bytes, 0);
}

function checkBudget(store: BlobStore, manifest: Manifest, budget: number | undefined): void {
  const total = packageBytes(manifest);
  if (budget !== undefined && total > budget) {
    throw new ModelLoadError(
      'budget',
      `package at ${store.location} needs ${total} bytes (${mib(total)}) but the memory budget is ${budget} bytes (${mib(budget)})`,
    );
  }
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * Loads the package at `store`: manifest, then every file, sizes and sha256 verified. Callers own the bytes
 * (nothing is kept here), so they can drop them once a session holds its own copy.
 * @example const { manifest, files } = await loadPackage(new R2Store(env.MODELS, { prefix: 'tiny' }), { memoryBudgetBytes: 64 << 20 })
 */
export async function loadPackage(
  store: BlobStore,
  options: LoadPackageOptions = {},
): Promise<LoadedPackage> {
  const { cache, memoryBudgetBytes, onProgress } = options;
  const { call, rangeChunkBytes } = storageAccess(options);
  const manifest = await readManifest(store, call);
  checkBudget(store, manifest, memoryBudgetBytes);
  const total = packageBytes(manifest);
  let done = 0;
  const files = new Map<string, Uint8Array>();
  await Promise.all(
    manifest.files.map(async (file) => {
      const cached = await readCache(cache, file.sha256, file.bytes);
      if (cached) {
        files.set(file.path, cached);
        done += file.bytes;
        onProgress?.(done, total, file.path);
        return;
      }
      const bytes = await fetchFile(store, file, {
        rangeChunkBytes,
        call,
        onBytes: (n) => {
          done += n;
          onProgress?.(done, total, file.path);
        },
      });
      const actual = await sha256Hex(bytes);
      if (actual !== file.sha256) {
        throw new ModelLoadError(
          'checksum',
          `${describeFile(store, file.path)} is corrupt: sha256 ${actual}, the manifest says ${file.sha256}`,
        );
      }
      files.set(file.path, bytes);
      // Only verified bytes reach the cache; a cache failure is not a load failure.
      await cache?.put(file.sha256, bytes).catch(() => undefined);
    }),
  );
  return { manifest, files };
}

/** How storage is read: what every package loader (in memory, or onto disk on Node) takes from the options. */
export type StorageOptions = Pick<
  LoadPackageOptions,
  'concurrency' | 'rangeChunkBytes' | 'retries' | 'retry' | 'onProgress'
>;

/** The request discipline: at most `concurrency` storage requests at once, transient errors retried. */
export function storageAccess({
  concurrency = DEFAULT_CONCURRENCY,
  rangeChunkBytes = DEFAULT_RANGE_CHUNK_BYTES,
  retries,
  retry,
}: StorageOptions): { call: StorageCall; rangeChunkBytes: number } {
  if (!Number.isInteger(rangeChunkBytes) || rangeChunkBytes < 1)
    throw new RangeError(`rangeChunkBytes must be a positive integer, got ${rangeChunkBytes}`);
  const limit = createConcurrencyLimit(concurrency);
  // Retry outside the limit, so a backoff sleep does not hold a request slot.
  return {
    call: (request) => withRetry(() => limit(request), { ...retry, retries }),
    rangeChunkBytes,
  };
}

/** A cache hit is used only when it still matches its size and hash (disks rot; caches get edited). */
async function readCache(
  cache: FileCache | undefined,
  sha256: string,
  bytes: number,
): Promise<Uint8Array | null> {
  if (!cache) return null;
  const hit = await cache.get(sha256).catch(() => null);
  if (!hit || hit.length !== bytes) return null;
  return (await sha256Hex(hit)) === sha256 ? hit : null;
}
