/** Parses byte sizes for CLI flags: "8388608", "64KiB", "8MiB", "1GiB" (K/M/G are binary too). */
import { UsageError } from '../cli.ts';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 2 ** 10,
  kib: 2 ** 10,
  m: 2 ** 20,
  mib: 2 ** 20,
  g: 2 ** 30,
  gib: 2 ** 30,
};

export function parseByteSize(value: string, flag: string): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(value.trim());
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) < 1)
    throw new UsageError(
      `--${flag} must be a positive size like 8MiB, 64KiB or 1048576, got ${JSON.stringify(value)}`,
    );
  return Number(m[1]) * unit;
}
