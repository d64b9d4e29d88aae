/** Downloads one package file through a BlobStore: whole for small files, parallel ranged GETs for large ones. */
import { ModelLoadError, type BlobStore, type ByteRange } from '../store.ts';
import type { PackageFile } from '../manifest.ts';

/** Runs one storage request under the loader's concurrency limit and retry policy. */
export type StorageCall = <T>(request: () => Promise<T>) => Promise<T>;

export interface FetchFileOptions {
  /** Files larger than this are fetched as ranged GETs of this size. */
  rangeChunkBytes: number;
  call: StorageCall;
  /** Reports bytes as they arrive (for progress). */
  onBytes?: (n: number) => void;
}

export function describeFile(store: BlobStore, path: string): string {
  return `${path} (${store.location.replace(/\/+$/, '')}/${path})`;
}

export function missingFileError(store: BlobStore, path: string): ModelLoadError {
  return new ModelLoadError('missing', `${describeFile(store, path)} is missing from the package`);
}

export function sizeError(store: BlobStore, file: PackageFile, actual: number): ModelLoadError {
  return new ModelLoadError(
    'truncated',
    `${describeFile(store, file.path)} has ${actual} bytes but the manifest says ${file.bytes}${actual < file.bytes ? ' (truncated)' : ''}`,
  );
}

/** Splits [0, size) into ranges of at most `chunk` bytes. */
export function chunkRanges(size: number, chunk: number): ByteRange[] {
  const ranges: ByteRange[] = [];
  for (let offset = 0; offset < size; offset += chunk)
    ranges.push({ offset, length: Math.min(chunk, size - offset) });
  return ranges;
}

/** A chunk not fetched because the download already failed (another chunk, or `stop()`): never the first error. */
export class AbandonedError extends Error {
  override name = 'AbandonedError';
}

export interface FetchToOptions extends FetchFileOptions {
  /** Checked before each chunk: true abandons the download (e.g. another file of the package failed). */
  stop?: () => boolean;
}

/**
 * Hands the file's bytes to `write` as they arrive: the whole object for small files, else parallel ranged GETs,
 * each written inside its storage slot (memory stays at chunk size × concurrency). Sizes are checked against the
 * manifest; the caller checks the sha256. Resolves or rejects only once every chunk has settled, with the first
 * real error.
 */
export async function fetchTo(
  store: BlobStore,
  file: PackageFile,
  options: FetchToOptions,
  write: (part: Uint8Array, offset: number) => void | Promise<void>,
): Promise<void> {
  const { rangeChunkBytes, call, onBytes, stop } = options;
  if (file.bytes <= rangeChunkBytes) {
    const n = await call(async () => {
      if (stop?.()) throw new AbandonedError(`${file.path}: download abandoned`);
      const bytes = await store.get(file.path);
      if (!bytes) throw missingFileError(store, file.path);
      if (bytes.length !== file.bytes) throw sizeError(store, file, bytes.length);
      await write(bytes, 0);
      return bytes.length;
    });
    onBytes?.(n);
    return;
  }
  const info = await call(() => store.head(file.path));
  if (!info) throw missingFileError(store, file.path);
  if (info.size !== file.bytes) throw sizeError(store, file, info.size);
  let failed = false;
  const chunks = await Promise.allSettled(
    chunkRanges(file.bytes, rangeChunkBytes).map(async (range) => {
      try {
        const n = await call(async () => {
          // After one chunk fails the file is lost: don't start the queued ones (not retryable).
          if (failed || stop?.()) throw new AbandonedError(`${file.path}: download abandoned`);
          const part = await store.get(file.path, range);
          if (!part) throw missingFileError(store, file.path);
          if (part.length !== range.length) {
            throw new ModelLoadError(
              'truncated',
              `${describeFile(store, file.path)}: bytes ${range.offset}+${range.length} returned ${part.length} bytes (object truncated or replaced during the download)`,
            );
          }
          await write(part, range.offset);
          return part.length;
        });
        onBytes?.(n);
      } catch (e: unknown) {
        failed = true;
        throw e;
      }
    }),
  );
  const errors = chunks
    .filter((c): c is PromiseRejectedResult => c.status === 'rejected')
    .map((c) => c.reason as unknown);
  if (errors.length) throw errors.find((e) => !(e instanceof AbandonedError)) ?? errors[0];
}

/** The file's bytes, with its size checked against the manifest (the caller checks the sha256). */
export async function fetchFile(
  store: BlobStore,
  file: PackageFile,
  options: FetchFileOptions,
): Promise<Uint8Array> {
  // A small file is the object itself; a large one is assembled from its ranges.
  let whole: Uint8Array | undefined;
  const out = file.bytes > options.rangeChunkBytes ? new Uint8Array(file.bytes) : null;
  await fetchTo(store, file, options, (part, offset) => {
    if (out) out.set(part, offset);
    else whole = part;
  });
  return out ?? whole!;
}
