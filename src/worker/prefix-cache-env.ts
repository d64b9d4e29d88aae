/** The prefix cache size setting (PREFIX_CACHE_POSITIONS / --prefix-cache): positions, 0 = off, default 4096. */
import { PrefixCache } from '../decode/index.ts';

export const DEFAULT_PREFIX_CACHE_POSITIONS = 4096;

export class PrefixCacheConfigError extends Error {
  override name = 'PrefixCacheConfigError';
}

export function prefixCacheFromEnv(value: string | number | undefined): PrefixCache | undefined {
  const positions = value === undefined || value === '' ? DEFAULT_PREFIX_CACHE_POSITIONS : Number(value);
  if (!Number.isSafeInteger(positions) || positions < 0) throw new PrefixCacheConfigError(`PREFIX_CACHE_POSITIONS must be a whole number of positions (0 turns the cache off), got ${JSON.stringify(value)}`);
  return positions === 0 ? undefined : new PrefixCache({ maxPositions: positions });
}
