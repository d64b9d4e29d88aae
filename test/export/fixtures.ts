/** Builds tiny random checkpoints and packages in temp dirs for the cross-module suites. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel, type MakeTinyModelOptions } from '../../scripts/tiny/make-tiny-model.ts';
import { exportPackage, type ExportOptions } from '../../scripts/export/export-package.ts';

export interface Fixture {
  root: string;
  checkpoint: string;
  pkg: (name: string, opts?: Partial<ExportOptions>) => Promise<string>;
  cleanup: () => Promise<void>;
}

export async function tinyFixture(model: Omit<MakeTinyModelOptions, 'out'> = {}): Promise<Fixture> {
  const root = await mkdtemp(join(tmpdir(), 'unmask-test-'));
  const checkpoint = join(root, 'ckpt');
  await makeTinyModel({ out: checkpoint, ...model });
  return {
    root,
    checkpoint,
    pkg: async (name, opts = {}) => {
      const outDir = join(root, name);
      await exportPackage({ checkpointDir: checkpoint, outDir, force: true, ...opts });
      return outDir;
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** A random token sequence from a seeded LCG (ids below `vocab`). */
export function randomIds(n: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % vocab;
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
