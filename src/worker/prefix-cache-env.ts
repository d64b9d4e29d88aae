/** The prefix cache size setting (PREFIX_CACHE_MB / --prefix-cache-mb): MiB of K/V, 0 = off, default 32. */
import { PrefixCache } from '../decode/index.ts';

export const DEFAULT_PREFIX_CACHE_MB = 32;

export class PrefixCacheConfigError extends Error {
  override name = 'PrefixCacheConfigError';
}

export function prefixCacheFromEnv(value: string | number | undefined): PrefixCache | undefined {
  const mib = value === undefined || value === '' ? DEFAULT_PREFIX_CACHE_MB : Number(value);
  if (!Number.isFinite(mib) || mib < 0) throw new PrefixCacheConfigError(`PREFIX_CACHE_MB must be a size in MiB (0 turns the cache off), got ${JSON.stringify(value)}`);
  return mib === 0 ? undefined : new PrefixCache({ maxBytes: Math.floor(mib * 2 ** 20) });
}
