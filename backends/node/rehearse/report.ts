/** The per-stage figures of the rehearsal report, and the bytes a stage left on disk. */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export type StageName = 'checkpoint' | 'export' | 'publish' | 'load' | 'generate';
export const STAGES: readonly StageName[] = ['checkpoint', 'export', 'publish', 'load', 'generate'];

export interface StageReport {
  wall_s: number;
  /** Peak resident memory of the stage's process (and its children), MiB. */
  peak_rss_mib: number;
  /** What the stage left on disk (checkpoint, package, S3 objects, disk cache). */
  disk_bytes?: number;
  [extra: string]: number | undefined;
}

/** Bytes of the regular files under `dir` (symlinks not followed; 0 when it does not exist). */
export async function diskBytes(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += await diskBytes(path);
    else if (e.isFile()) total += (await lstat(path)).size;
  }
  return total;
}
