/**
 * Builds the embedded tiny random model package if it is absent: make-tiny-model → export-onnx.
 * Used by `npm start`, `npm run generate` defaults and the benchmarks; tests build their own.
 */
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeTinyModel } from './export/make-tiny-model.ts';
import { exportPackage, type ExportOptions } from './export/export-package.ts';

export const DEFAULT_TINY_PACKAGE = resolve('models/tiny-random');

export interface TinyPackageOptions {
  outDir?: string;
  seed?: number;
  /** make-tiny-model overrides (layers, hidden, experts, …). */
  model?: Record<string, unknown>;
  export?: Partial<ExportOptions>;
  quiet?: boolean;
}

/** Returns the package dir, building it first when missing. */
export async function ensureTinyPackage(opts: TinyPackageOptions = {}): Promise<string> {
  const outDir = resolve(opts.outDir ?? DEFAULT_TINY_PACKAGE);
  try {
    await access(join(outDir, 'manifest.json'));
    return outDir;
  } catch {
    /* build it */
  }
  const work = await mkdtemp(join(tmpdir(), 'unmask-tiny-'));
  try {
    const ckpt = join(work, 'checkpoint');
    await makeTinyModel({
      out: ckpt,
      seed: opts.seed ?? 0,
      quiet: opts.quiet ?? true,
      ...opts.model,
    } as Parameters<typeof makeTinyModel>[0]);
    await exportPackage({
      checkpointDir: ckpt,
      outDir,
      force: true,
      blockLength: 32,
      ...opts.export,
    });
    if (!opts.quiet) process.stderr.write(`built tiny model package at ${outDir}\n`);
    return outDir;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
