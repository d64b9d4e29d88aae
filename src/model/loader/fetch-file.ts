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
  return new ModelLoadError('truncated', `${describeFile(store, file.path)} has ${actual} bytes but the manifest says ${file.bytes}${actual < file.bytes ? ' (truncated)' : ''}`);
}

/** Splits [0, size) into ranges of at most `chunk` bytes. */
export function chunkRanges(size: number, chunk: number): ByteRange[] {
  const ranges: ByteRange[] = [];
  for (let offset = 0; offset < size; offset += chunk) ranges.push({ offset, length: Math.min(chunk, size - offset) });
  return ranges;
}

/** The file's bytes, with its size checked against the manifest (the caller checks the sha256). */
export async function fetchFile(store: BlobStore, file: PackageFile, options: FetchFileOptions): Promise<Uint8Array> {
  const { rangeChunkBytes, call, onBytes } = options;
  if (file.bytes <= rangeChunkBytes) {
    const bytes = await call(() => store.get(file.path));
    if (!bytes) throw missingFileError(store, file.path);
    if (bytes.length !== file.bytes) throw sizeError(store, file, bytes.length);
    onBytes?.(bytes.length);
    return bytes;
  }
  const info = await call(() => store.head(file.path));
  if (!info) throw missingFileError(store, file.path);
  if (info.size !== file.bytes) throw sizeError(store, file, info.size);
  const out = new Uint8Array(file.bytes);
  let failed = false;
  await Promise.all(chunkRanges(file.bytes, rangeChunkBytes).map(async (range) => {
    try {
      const part = await call(async () => {
        // After one chunk fails the file is lost: don't start the queued ones (not retryable; Promise.all
        // has already rejected with the first error).
        if (failed) throw new Error(`${file.path}: download abandoned`);
        return store.get(file.path, range);
      });
      if (!part) throw missingFileError(store, file.path);
      if (part.length !== range.length) {
        throw new ModelLoadError('truncated', `${describeFile(store, file.path)}: bytes ${range.offset}+${range.length} returned ${part.length} bytes (object truncated or replaced during the download)`);
      }
      out.set(part, range.offset);
      onBytes?.(part.length);
    } catch (e: unknown) {
      failed = true;
      throw e;
    }
  }));
  return out;
}
