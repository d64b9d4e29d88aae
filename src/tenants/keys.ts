/**
 * API key material: minting `sk-unmask-…` keys, SHA-256 hashing (Web Crypto) and constant-time comparison.
 * Only hashes are stored; a key is shown once, when it is created.
 */

import { sha256Hex } from '../api/secrets.ts';
import { TenantStoreError, type ApiKeyInfo } from './types.ts';

export { constantTimeEqual, secretsEqual } from '../api/secrets.ts';

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
export const hashApiKey = sha256Hex;

/** The last 4 characters of a key, stored as a hint for listings (never enough to guess the key). */
export function keyHint(key: string): string {
  return key.slice(-4);
}

/**
 * The expiry of the key that replaces `old` at `at`, or a TenantStoreError: a revoked or expired key is not
 * rotated (create a new key deliberately instead), and the new key keeps the old expiry unless one is given
 * (`null`: never expires).
 */
export function rotationExpiry(
  old: ApiKeyInfo,
  at: number,
  expiresAt: number | null | undefined,
): number | null {
  if (old.revokedAt !== null && old.revokedAt <= at)
    throw new TenantStoreError(
      'key_revoked',
      `API key '${old.id}' is already revoked; create a new key instead.`,
    );
  if (old.expiresAt !== null && old.expiresAt <= at)
    throw new TenantStoreError(
      'key_expired',
      `API key '${old.id}' has expired; create a new key instead.`,
    );
  return expiresAt === undefined ? old.expiresAt : expiresAt;
}
