/**
 * FileCache in a directory: verified package files named by sha256, written to a temp name and renamed
 * (atomic, so readers never see half a file), bounded in size by evicting least-recently-used files.
 */
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FileCache } from '../../../src/model/store.ts';
import { leasedSha256s, takeLease, type Lease } from './cache-leases.ts';

export const DEFAULT_CACHE_MAX_BYTES = 20 * 2 ** 30;
/** Temp files older than this belong to a crashed writer. */
const STALE_TEMP_MS = 60 * 60 * 1000;
const SHA256 = /^[0-9a-f]{64}$/;
const TEMP_PREFIX = '.tmp-';

export interface DiskCacheOptions {
  /** Default: $UNMASK_CACHE_DIR, else $XDG_CACHE_HOME/unmask, else ~/.cache/unmask. */
  dir?: string;
  /** Bound on the cached bytes (default: $UNMASK_CACHE_MAX_BYTES, else 20 GiB). */
  maxBytes?: number;
  env?: Record<string, string | undefined>;
}

export function defaultCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.UNMASK_CACHE_DIR) return resolve(env.UNMASK_CACHE_DIR);
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'unmask');
}

function envMaxBytes(env: Record<string, string | undefined>): number | undefined {
  const raw = env.UNMASK_CACHE_MAX_BYTES;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`UNMASK_CACHE_MAX_BYTES must be a byte count, got ${JSON.stringify(raw)}`);
  return n;
}

export interface CacheEntry {
  sha256: string;
  bytes: number;
  /** Last use (mtime, refreshed on every hit). */
  usedMs: number;
}

/**
 * @example const cache = new DiskCache({ maxBytes: 50 * 2 ** 30 }); await loadPackage(store, { cache })
 */
export class DiskCache implements FileCache {
  readonly dir: string;
  readonly maxBytes: number;

  constructor({
    env = process.env,
    dir = defaultCacheDir(env),
    maxBytes = envMaxBytes(env) ?? DEFAULT_CACHE_MAX_BYTES,
  }: DiskCacheOptions = {}) {
    this.dir = resolve(dir);
    this.maxBytes = maxBytes;
  }

  async get(sha256: string): Promise<Uint8Array | null> {
    if (!SHA256.test(sha256)) return null;
    const path = join(this.dir, sha256);
    try {
      const buf = await readFile(path);
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e: unknown) {
      if ((e as { code?: string }).code === 'ENOENT') return null;
      throw e;
    }
  }

  async put(sha256: string, bytes: Uint8Array): Promise<void> {
    if (!SHA256.test(sha256)) throw new Error(`DiskCache: not a sha256: ${JSON.stringify(sha256)}`);
    if (bytes.length > this.maxBytes) return; // would evict everything and still not fit
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, sha256);
    const existing = await stat(path).catch(() => null);
    if (existing?.size === bytes.length) {
      const now = new Date();
      await utimes(path, now, now);
    } else {
      const temp = join(
        this.dir,
        `${TEMP_PREFIX}${sha256}-${process.pid}-${Math.random().toString(36).slice(2)}`,
      );
      try {
        await writeFile(temp, bytes, { flag: 'wx' });
        await rename(temp, path);
      } catch (e: unknown) {
        await rm(temp, { force: true });
        throw e;
      }
    }
    await this.evict(sha256);
  }

  /** Cached files, least recently used first. */
  async entries(): Promise<CacheEntry[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const entries = await Promise.all(
      names
        .filter((n) => SHA256.test(n))
        .map(async (name) => {
          const s = await stat(join(this.dir, name)).catch(() => null);
          return s ? { sha256: name, bytes: s.size, usedMs: s.mtimeMs } : null;
        }),
    );
    return entries.filter((e): e is CacheEntry => e !== null).sort((a, b) => a.usedMs - b.usedMs);
  }

  /** Marks files as in use by this process: no eviction, by any process, removes them until released. */
  lease(sha256s: Iterable<string>): Promise<Lease> {
    return takeLease(this.dir, sha256s);
  }

  /**
   * Removes least-recently-used files until the cache fits, never those in `keep` or under a lease (another
   * process may be serving them), and stale temp files.
   */
  async evict(keep?: string | ReadonlySet<string>): Promise<void> {
    const leased = await leasedSha256s(this.dir);
    const kept = (sha256: string) =>
      leased.has(sha256) ||
      (typeof keep === 'string' ? keep === sha256 : (keep?.has(sha256) ?? false));
    const entries = await this.entries();
    let total = entries.reduce((sum, e) => sum + e.bytes, 0);
    for (const entry of entries) {
      if (total <= this.maxBytes) break;
      if (kept(entry.sha256)) continue;
      await rm(join(this.dir, entry.sha256), { force: true });
      total -= entry.bytes;
    }
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const now = Date.now();
    await Promise.all(
      names
        .filter((n) => n.startsWith(TEMP_PREFIX))
        .map(async (name) => {
          const s = await stat(join(this.dir, name)).catch(() => null);
          if (s && now - s.mtimeMs > STALE_TEMP_MS) await rm(join(this.dir, name), { force: true });
        }),
    );
  }
}
