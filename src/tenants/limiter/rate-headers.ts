/** OpenAI's `x-ratelimit-*` response headers from bucket levels; resets are Go-style durations ("1.5s", "6m0s"). */
import type { RateHeaders } from '../../api/tenancy.ts';

export interface BucketView {
  limit: number;
  level: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
}

/** Headers for whichever of the request and token buckets the tenant has (an unlimited dimension is omitted). */
export function rateHeaders(requests: BucketView | null, tokens: BucketView | null): RateHeaders {
  const headers: RateHeaders = {};
  if (requests) {
    headers['x-ratelimit-limit-requests'] = String(requests.limit);
    headers['x-ratelimit-remaining-requests'] = String(Math.max(0, Math.floor(requests.level)));
    headers['x-ratelimit-reset-requests'] = formatDuration(requests.resetMs);
  }
  if (tokens) {
    headers['x-ratelimit-limit-tokens'] = String(tokens.limit);
    headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, Math.floor(tokens.level)));
    headers['x-ratelimit-reset-tokens'] = formatDuration(tokens.resetMs);
  }
  return headers;
}

/** Formats milliseconds like Go's time.Duration, as OpenAI does: "0s", "20ms", "1.5s", "6m0s", "1h2m3s". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = trimZeros(((total % 60_000) / 1000).toFixed(3));
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

function trimZeros(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}
