/**
 * API key material: minting `sk-unmask-…` keys, SHA-256 hashing (Web Crypto) and constant-time comparison.
 * Only hashes are stored; a key is shown once, when it is created. Keys name their tenant
 * (`sk-unmask-<tenant id>_<secret>`), so the Worker can send a request straight to the tenant's Durable Object;
 * keys minted before that (`sk-unmask-<secret>`) stay valid and are looked up in D1.
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
const TENANT_ID_PATTERN = 'ten_[0-9A-Za-z]{16}';
const LEGACY_KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${SECRET_LENGTH}}$`);
const TENANT_KEY_PATTERN = new RegExp(
  `^${API_KEY_PREFIX}(${TENANT_ID_PATTERN})_[0-9A-Za-z]{${SECRET_LENGTH}}$`,
);

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

const MINTED_TENANT_ID = new RegExp(`^${TENANT_ID_PATTERN}$`);

/**
 * A fresh API key: `sk-unmask-<tenant id>_` + 43 base62 characters (256 bits). Without a tenant id, or for a
 * tenant id this service did not mint (an imported one), the legacy shape `sk-unmask-` + 43 characters.
 */
export function generateApiKey(tenantId?: string): string {
  const names = tenantId !== undefined && MINTED_TENANT_ID.test(tenantId);
  return `${API_KEY_PREFIX}${names ? `${tenantId}_` : ''}${randomBase62(SECRET_LENGTH)}`;
}

/** True when `value` has the shape of a key this service mints or minted (a cheap pre-check before any lookup). */
export function looksLikeApiKey(value: string): boolean {
  return TENANT_KEY_PATTERN.test(value) || LEGACY_KEY_PATTERN.test(value);
}

/** The tenant a key names (new-format keys), or null (legacy keys, or not a key). Not proof of anything. */
export function tenantOfApiKey(value: string): string | null {
  return TENANT_KEY_PATTERN.exec(value)?.[1] ?? null;
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
