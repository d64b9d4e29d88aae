/**
 * API key material: minting `sk-unmask-…` keys, SHA-256 hashing (Web Crypto) and constant-time comparison.
 * Only hashes are stored; a key is shown once, when it is created.
 */

export const API_KEY_PREFIX = 'sk-unmask-';
/** 43 base62 characters carry 43·log2(62) ≈ 256 bits, i.e. 32 random bytes. */
const SECRET_LENGTH = 43;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Largest multiple of 62 below 256: bytes at or above it are rejected so every character is uniform. */
const UNBIASED_LIMIT = 248;
const KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${SECRET_LENGTH}}$`);

/** Uniform random base62 string from crypto.getRandomValues (rejection sampling, no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  const buffer = new Uint8Array(Math.max(16, length * 2));
  while (out.length < length) {
    crypto.getRandomValues(buffer);
    for (const byte of buffer) {
      if (byte >= UNBIASED_LIMIT) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A fresh API key: `sk-unmask-` + 43 base62 characters (256 bits). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBase62(SECRET_LENGTH);
}

/** True when `value` has the shape of a key this service mints (a cheap pre-check before any lookup). */
export function looksLikeApiKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

/** Short public id of a key, e.g. `key_3fK9…` (safe to show and log). */
export function newKeyId(): string {
  return `key_${randomBase62(16)}`;
}

/** Public id of a tenant, e.g. `ten_…`. */
export function newTenantId(): string {
  return `ten_${randomBase62(16)}`;
}

/** Lower-case hex SHA-256 of the whole key, the only form a key is stored in. */
export async function hashApiKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key));
  return toHex(new Uint8Array(digest));
}

/** The last 4 characters of a key, stored as a hint for listings (never enough to guess the key). */
export function keyHint(key: string): string {
  return key.slice(-4);
}

/**
 * Compares two strings in time that depends only on their lengths (hashes have a fixed, public length):
 * every character is visited and differences are OR-ed together, with no early exit.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}

/**
 * Constant-time comparison of secrets of any length (e.g. an admin token): both sides are hashed first, so
 * the comparison runs over two 64-character digests and leaks neither content nor length.
 */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([hashApiKey(given), hashApiKey(expected)]);
  return constantTimeEqual(a, b);
}

function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
