/**
 * The prefix cache size setting (PREFIX_CACHE_MB / --prefix-cache-mb): MiB of K/V, 0 = off. The Worker's default
 * is small (its K/V lives in the isolate's 128 MB beside the model); a Node server's is larger.
 */
import { PrefixCache } from '../decode/index.ts';

export const WORKER_PREFIX_CACHE_MB = 8;
export const NODE_PREFIX_CACHE_MB = 32;

export class PrefixCacheConfigError extends Error {
  override name = 'PrefixCacheConfigError';
}

export function prefixCacheFromEnv(
  value: string | number | undefined,
  defaultMb: number,
): PrefixCache | undefined {
  const mib = value === undefined || value === '' ? defaultMb : Number(value);
  if (!Number.isFinite(mib) || mib < 0)
    throw new PrefixCacheConfigError(
      `PREFIX_CACHE_MB must be a size in MiB (0 turns the cache off), got ${JSON.stringify(value)}`,
    );
  return mib === 0 ? undefined : new PrefixCache({ maxBytes: Math.floor(mib * 2 ** 20) });
}
