/**
 * Verified-file stamps: once a package file's sha256 has been checked, the file is remembered by what the
 * filesystem says about it (device, inode, size, mtime and ctime in nanoseconds). Every write, truncate, rename
 * onto the path, chmod or utimes moves ctime forward, so a later open that finds the same stat skips the hash:
 * re-opening a 500 MB package costs a stat per file instead of about a second of sha256 (docs/node.md).
 *
 * What a stamp cannot see is a change that leaves the stat alone: silent media corruption, or a writer with root
 * who resets the clock. `UNMASK_VERIFY=full` re-hashes every file on every open. A file changed within the
 * kernel's timestamp granularity of being stamped would keep its ctime (git's "racy" entries), so a file whose
 * ctime is under RACY_MS old is not stamped from a hash; it is hashed again next time. A file this process changed
 * itself after verifying it (a download renamed into place, a cache entry touched) is stamped at once, and the
 * caller waits out the timestamp tick: a concurrent writer within those milliseconds is the same window the
 * verification always had between the hash and the runtime opening the file.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join, resolve } from 'node:path';

/** A ctime younger than this could still move within the same timestamp tick. */
export const RACY_MS = 2_000;
/** Linux stamps ctime from a coarse clock: at most one jiffy (10 ms at HZ=100) per tick. */
const TICK_MS = 10;
/** Past this many stamps, stamps of files that are gone are removed. */
const PRUNE_OVER = 1_024;

interface Stamp {
  path: string;
  sha256: string;
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

export interface VerifiedStampsOptions {
  /** Clock for the racy check (tests move it). */
  now?: () => number;
}

/** @example const stamps = new VerifiedStamps(join(cache.dir, 'verified')) */
export class VerifiedStamps {
  readonly dir: string;
  private readonly now: () => number;

  constructor(dir: string, { now = Date.now }: VerifiedStampsOptions = {}) {
    this.dir = resolve(dir);
    this.now = now;
  }

  /** Whether `path` is, by its stat, the file that was verified to hash to `sha256`. */
  async matches(path: string, sha256: string): Promise<boolean> {
    const [stamp, current] = await Promise.all([
      this.read(path),
      stat(path, { bigint: true }).catch(() => null),
    ]);
    return (
      stamp !== null &&
      current !== null &&
      stamp.sha256 === sha256 &&
      stamp.path === resolve(path) &&
      sameStat(stamp, stampOf(path, sha256, current))
    );
  }

  /**
   * Stamps a file just hashed to `sha256`; `before` is its stat from before the hash. Nothing is stamped when the
   * file changed while it was hashed, or when its ctime is too recent to be trusted (see RACY_MS).
   */
  async rememberHashed(path: string, sha256: string, before: BigIntStats): Promise<void> {
    const after = await stat(path, { bigint: true }).catch(() => null);
    if (!after) return;
    const stamp = stampOf(path, sha256, after);
    if (!sameStat(stamp, stampOf(path, sha256, before))) return;
    if (Number(after.ctimeNs / 1_000_000n) > this.now() - RACY_MS) return;
    await this.write(stamp);
  }

  /**
   * Stamps a file this process itself last changed after verifying it (renamed a verified download into place,
   * or touched a verified cache entry to mark it used): its ctime is recent because of us, not of a writer.
   */
  async rememberOwn(path: string, sha256: string): Promise<void> {
    const current = await stat(path, { bigint: true }).catch(() => null);
    if (!current) return;
    await this.write(stampOf(path, sha256, current));
    // Let the kernel's coarse timestamp tick pass, so any write after this returns moves ctime visibly.
    const wait = Number(current.ctimeNs / 1_000_000n) + TICK_MS - this.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, TICK_MS)));
  }

  private fileOf(path: string): string {
    return join(this.dir, `${createHash('sha256').update(resolve(path)).digest('hex')}.json`);
  }

  private async read(path: string): Promise<Stamp | null> {
    try {
      return JSON.parse(await readFile(this.fileOf(path), 'utf8')) as Stamp;
    } catch {
      return null; // no stamp, or a damaged one: hash the file
    }
  }

  /** Best effort: a stamp that cannot be written only means the next open hashes again. */
  private async write(stamp: Stamp): Promise<void> {
    const file = this.fileOf(stamp.path);
    const temp = `${file}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(temp, JSON.stringify(stamp));
      await rename(temp, file);
      await this.prune();
    } catch {
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }

  /** Stamps of files that no longer exist (temporary packages, evicted cache entries) are dropped. */
  private async prune(): Promise<void> {
    const names = await readdir(this.dir);
    if (names.length <= PRUNE_OVER) return;
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const file = join(this.dir, name);
      const stamp = await readFile(file, 'utf8')
        .then((t) => JSON.parse(t) as Stamp)
        .catch(() => null);
      if (!stamp || !(await stat(stamp.path).catch(() => null))) await rm(file, { force: true });
    }
  }
}

function stampOf(path: string, sha256: string, s: BigIntStats): Stamp {
  return {
    path: resolve(path),
    sha256,
    dev: String(s.dev),
    ino: String(s.ino),
    size: String(s.size),
    mtimeNs: String(s.mtimeNs),
    ctimeNs: String(s.ctimeNs),
  };
}

function sameStat(a: Stamp, b: Stamp): boolean {
  return (
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}
