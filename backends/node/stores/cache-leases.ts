/**
 * Leases on disk-cache files: a process that is downloading, verifying or serving a package lists the files'
 * sha256s in `<cache>/leases/<host>-<pid>-<random>.json`, and eviction (by any process sharing the cache)
 * skips them. Without this, a second model loading into the same cache could evict the first one's weights
 * between their verification and the session opening them, or while a server runs from them.
 *
 * A lease ends when released, when its process exits, or when it has gone stale: its process is gone (same
 * host), or it has not been refreshed for an hour (a holder refreshes it every ten minutes).
 */
import { unlinkSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LEASES_DIR = 'leases';
const REFRESH_MS = 10 * 60 * 1000;
const STALE_MS = 60 * 60 * 1000;

export interface Lease {
  /** Ends the lease (idempotent). */
  release(): Promise<void>;
}

interface LeaseFile {
  host: string;
  pid: number;
  sha256s: string[];
}

const held = new Set<string>();
let exitHook = false;

/** Leases `sha256s` in the cache at `cacheDir` for this process. */
export async function takeLease(cacheDir: string, sha256s: Iterable<string>): Promise<Lease> {
  const dir = join(cacheDir, LEASES_DIR);
  await mkdir(dir, { recursive: true });
  const host = hostname();
  const path = join(
    dir,
    `${host}-${process.pid}-${Math.random().toString(36).slice(2)}.json`.replace(/[^\w.-]/g, '_'),
  );
  const body: LeaseFile = { host, pid: process.pid, sha256s: [...new Set(sha256s)] };
  await writeFile(path, JSON.stringify(body));
  held.add(path);
  if (!exitHook) {
    exitHook = true;
    // A server that exits without closing its model must not leave leases that block eviction for an hour.
    process.on('exit', () => {
      for (const p of held) {
        try {
          unlinkSync(p);
        } catch {
          /* already gone */
        }
      }
    });
  }
  const refresh = setInterval(() => {
    const now = new Date();
    void utimes(path, now, now).catch(() => undefined);
  }, REFRESH_MS);
  refresh.unref();
  return {
    async release() {
      clearInterval(refresh);
      held.delete(path);
      await rm(path, { force: true });
    },
  };
}

/** The sha256s under a live lease; stale lease files are removed on the way. */
export async function leasedSha256s(cacheDir: string): Promise<Set<string>> {
  const dir = join(cacheDir, LEASES_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  const out = new Set<string>();
  const host = hostname();
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const path = join(dir, name);
    const [s, text] = await Promise.all([
      stat(path).catch(() => null),
      readFile(path, 'utf8').catch(() => null),
    ]);
    if (!s || text === null) continue;
    let lease: LeaseFile;
    try {
      lease = JSON.parse(text) as LeaseFile;
    } catch {
      continue; // being written: its files stay for now
    }
    const stale =
      Date.now() - s.mtimeMs > STALE_MS || (lease.host === host && !processAlive(lease.pid));
    if (stale) await rm(path, { force: true });
    else for (const sha of lease.sha256s ?? []) out.add(sha);
  }
  return out;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: unknown) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
