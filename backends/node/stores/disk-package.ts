/**
 * A model package as files on disk, for packages too large to hold in memory (a full MoE checkpoint: tens of GB,
 * beyond Node's 4 GiB buffers and ONNX's 2 GB protobuf limit). Remote files are downloaded chunk by chunk into the
 * disk cache (parallel ranged GETs written at their offsets; memory use is chunk size × concurrency, whatever the
 * file size), verified by a streamed sha256 and renamed into place; a local package directory is verified in
 * place. The result is a directory where every package file sits under its package path, which onnxruntime-node
 * opens by path, resolving external data next to the graph.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, symlink, utimes } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import {
  MANIFEST_FILE,
  parseManifest,
  type Manifest,
  type PackageFile,
} from '../../../src/model/manifest.ts';
import { ModelLoadError, type BlobStore } from '../../../src/model/store.ts';
import {
  AbandonedError,
  describeFile,
  fetchTo,
  missingFileError,
  sizeError,
  type FetchToOptions,
} from '../../../src/model/loader/fetch-file.ts';
import { readManifest } from '../../../src/model/loader/read-manifest.ts';
import { packageBytes, storageAccess, type StorageOptions } from '../../../src/model/loader.ts';
import { DiskCache } from './disk-cache.ts';
import { FsStore } from './fs-store.ts';
import { sha256File } from '../sha256-file.ts';
import { VerifiedStamps } from './verified-stamps.ts';

export interface DiskPackageOptions extends StorageOptions {
  /** Where remote files are kept (default: a DiskCache from the environment). Unused for a local directory. */
  cache?: DiskCache;
  /**
   * Files verified before and unchanged since (by their stat) are not hashed again; null re-hashes every file
   * (UNMASK_VERIFY=full). Default: stamps in the cache's `verified/` folder.
   */
  stamps?: VerifiedStamps | null;
}

/** The stamps `diskPackage` uses unless told otherwise: none when `UNMASK_VERIFY=full`. */
export function stampsFor(
  cache: DiskCache,
  env: Record<string, string | undefined> = process.env,
): VerifiedStamps | null {
  const mode = env.UNMASK_VERIFY ?? 'stamp';
  if (mode === 'full') return null;
  if (mode !== 'stamp')
    throw new Error(`UNMASK_VERIFY must be stamp or full, got ${JSON.stringify(mode)}`);
  return new VerifiedStamps(join(cache.dir, 'verified'));
}

export interface DiskPackage {
  manifest: Manifest;
  /** Every package file under its package path. */
  dir: string;
  /** Bytes that had to be downloaded (0 when everything was cached or local). */
  downloadedBytes: number;
  /**
   * Ends this process's claim on the package's cache files (taken before the first download: no eviction
   * removes them while the package is loading or in use). A no-op for a local directory.
   */
  release(): Promise<void>;
}

export { sha256File };

/** The manifest of a package directory, validated. */
export async function readLocalManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    throw new Error(`no ${MANIFEST_FILE} in ${dir}: not a model package`);
  }
  return parseManifest(JSON.parse(text));
}

/**
 * @example const { dir, manifest } = await diskPackage(openStore('s3://models/llada2-mini'));
 *          await ort.InferenceSession.create(join(dir, manifest.graph.file), options);
 */
export async function diskPackage(
  store: BlobStore,
  options: DiskPackageOptions = {},
): Promise<DiskPackage> {
  const { onProgress } = options;
  const { call } = storageAccess(options);
  const manifest = await readManifest(store, call);
  const cache = options.cache ?? new DiskCache();
  const stamps = options.stamps === undefined ? stampsFor(cache) : options.stamps;
  const total = packageBytes(manifest);
  let done = 0;
  const advance = (n: number, path: string) => {
    done += n;
    onProgress?.(done, total, path);
  };

  if (store instanceof FsStore) {
    // A local package is used where it is, after the same checks a download gets.
    for (const file of manifest.files) {
      const path = join(store.location, file.path);
      const size = (await stat(path).catch(() => null))?.size;
      if (size === undefined) throw missingFileError(store, file.path);
      if (size !== file.bytes) throw sizeError(store, file, size);
      await verify(store, file, path, stamps);
      advance(file.bytes, file.path);
    }
    return { manifest, dir: store.location, downloadedBytes: 0, release: async () => {} };
  }

  await mkdir(cache.dir, { recursive: true });
  const lease = await cache.lease(manifest.files.map((f) => f.sha256));
  try {
    const { dir, downloadedBytes } = await download(
      store,
      manifest,
      cache,
      stamps,
      options,
      advance,
    );
    return { manifest, dir, downloadedBytes, release: () => lease.release() };
  } catch (e: unknown) {
    await lease.release();
    throw e;
  }
}

/** Every file of the package into the cache (intact cached files are kept), then linked under its paths. */
async function download(
  store: BlobStore,
  manifest: Manifest,
  cache: DiskCache,
  stamps: VerifiedStamps | null,
  options: DiskPackageOptions,
  advance: (n: number, path: string) => void,
): Promise<{ dir: string; downloadedBytes: number }> {
  const { call, rangeChunkBytes } = storageAccess(options);
  let downloadedBytes = 0;
  // One failed file stops the others (no new chunks) and the load reports it once every download has cleaned up.
  let failed = false;
  const results = await Promise.allSettled(
    manifest.files.map(async (file) => {
      const cached = join(cache.dir, file.sha256);
      if (await isCached(cached, file, stamps)) {
        const now = new Date();
        await utimes(cached, now, now).catch(() => undefined);
        await stamps?.rememberOwn(cached, file.sha256);
        advance(file.bytes, file.path);
        return;
      }
      try {
        await downloadFile(store, file, cached, {
          call,
          rangeChunkBytes,
          stop: () => failed,
          onBytes: (n) => advance(n, file.path),
        });
        await stamps?.rememberOwn(cached, file.sha256);
      } catch (e: unknown) {
        failed = true;
        throw e;
      }
      downloadedBytes += file.bytes;
    }),
  );
  // The first real failure, not a download another file's failure abandoned.
  const failures = results
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r) => r.reason as unknown);
  if (failures.length) throw failures.find((e) => !(e instanceof AbandonedError)) ?? failures[0];
  // The package's files are the most recently used: eviction takes older ones first, and never these.
  await cache.evict(new Set(manifest.files.map((f) => f.sha256)));
  const dir = await linkPackage(cache.dir, manifest);
  return { dir, downloadedBytes };
}

/**
 * A cache entry counts only when its size and hash still match (disks rot; caches get edited); the hash is skipped
 * when its verified stamp still matches its stat.
 */
async function isCached(
  path: string,
  file: PackageFile,
  stamps: VerifiedStamps | null,
): Promise<boolean> {
  const s = await stat(path).catch(() => null);
  if (!s || s.size !== file.bytes) return false;
  if (await stamps?.matches(path, file.sha256)) return true;
  if ((await sha256File(path)) === file.sha256) return true;
  await rm(path, { force: true });
  return false;
}

/** Throws unless the file hashes to the manifest's sha256 (or is stamped as having done so, unchanged since). */
async function verify(
  store: BlobStore,
  file: PackageFile,
  path: string,
  stamps: VerifiedStamps | null = null,
): Promise<void> {
  if (await stamps?.matches(path, file.sha256)) return;
  const before = await stat(path, { bigint: true });
  const actual = await sha256File(path);
  if (actual !== file.sha256)
    throw new ModelLoadError(
      'checksum',
      `${describeFile(store, file.path)} is corrupt: sha256 ${actual}, the manifest says ${file.sha256}`,
    );
  await stamps?.rememberHashed(path, file.sha256, before);
}

/** Ranged GETs written at their offsets into a temp file; verified, then renamed to `target`. */
async function downloadFile(
  store: BlobStore,
  file: PackageFile,
  target: string,
  options: FetchToOptions,
): Promise<void> {
  const temp = `${dirname(target)}/.tmp-${file.sha256}-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const handle = await open(temp, 'wx');
  try {
    await fetchTo(store, file, options, async (part, offset) => {
      await handle.write(part, 0, part.length, offset);
    });
    await handle.sync();
    await handle.close();
    await verify(store, file, temp);
    await rename(temp, target);
  } catch (e: unknown) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw e;
  }
}

/**
 * `<cache>/packages/<manifest hash>/<package path>` → the cached files, as relative symlinks (no second copy).
 * Built under a temp name and renamed, so a directory that exists is complete.
 */
async function linkPackage(cacheDir: string, manifest: Manifest): Promise<string> {
  const id = createHash('sha256')
    .update(JSON.stringify(manifest.files.map((f) => [f.path, f.sha256])))
    .digest('hex')
    .slice(0, 32);
  const dir = join(cacheDir, 'packages', id);
  if (await stat(dir).catch(() => null)) return dir;
  const temp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    for (const file of manifest.files) {
      const link = join(temp, file.path);
      await mkdir(dirname(link), { recursive: true });
      // Relative, so the cache still works mounted at another path.
      await symlink(relative(dirname(link), join(cacheDir, file.sha256)), link);
    }
    await rename(temp, dir).catch(async (e: unknown) => {
      // Another process linked the same package first: theirs is as good.
      if (!(await stat(dir).catch(() => null))) throw e;
      await rm(temp, { recursive: true, force: true });
    });
  } catch (e: unknown) {
    await rm(temp, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

/** A small package file (tokenizer, config) read into memory. */
export function readPackageFile(pkg: DiskPackage, path: string): Promise<Uint8Array> {
  return readFile(join(pkg.dir, path)).then(
    (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
  );
}
