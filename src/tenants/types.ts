/** The admin side of the tenant store (tenants and keys), beyond the TenantStore the API consumes. */
import type { Tenant, TenantStore } from '../api/tenancy.ts';

/** Fields of a new tenant; omitted limits are unlimited (null), `degradeToEdge` defaults to false. */
export interface TenantInput {
  name: string;
  models?: string[] | null;
  rpm?: number | null;
  tpm?: number | null;
  maxConcurrent?: number | null;
  maxTokens?: number | null;
  budgetTokens?: number | null;
  /** Defaults to 'month' when `budgetTokens` is set. */
  budgetPeriod?: 'day' | 'month' | null;
  degradeToEdge?: boolean;
}

/** PATCH semantics: absent fields stay, null clears a limit. */
export type TenantPatch = Partial<TenantInput>;

/** What may be shown about a key: never the key or its hash. */
export interface ApiKeyInfo {
  id: string;
  tenantId: string;
  /** Last 4 characters of the key, to tell keys apart. */
  hint: string;
  createdAt: number;
  expiresAt: number | null;
  /** When the key stops working; may lie in the future (rotation grace period). */
  revokedAt: number | null;
}

/** A new key: `key` is returned once and never stored. */
export interface CreatedKey extends ApiKeyInfo {
  key: string;
}

export interface RotatedKey extends CreatedKey {
  /** The replaced key, with its (possibly future) `revokedAt`. */
  replaced: ApiKeyInfo;
}

export interface CreateKeyOptions {
  tenantId: string;
  /** Epoch ms; null or absent = never expires. */
  expiresAt?: number | null;
}

export interface RotateKeyOptions {
  /** When the old key stops working (epoch ms); now or later. An earlier existing revocation is kept. */
  revokeOldAt: number;
  /**
   * Expiry of the new key: absent (undefined) keeps the old key's expiry, null = never expires. Rotation replaces
   * a secret; it never extends a key's lifetime unless asked to.
   */
  expiresAt?: number | null;
}

export interface ListTenantsOptions {
  /** Default 100, at most 1000. */
  limit?: number;
  /** Cursor: list ids after this one. */
  after?: string;
}

export interface TenantAdminStore extends TenantStore {
  createTenant(input: TenantInput): Promise<Tenant>;
  getTenant(id: string): Promise<Tenant | null>;
  /** Throws TenantStoreError('tenant_not_found'). */
  updateTenant(id: string, patch: TenantPatch): Promise<Tenant>;
  listTenants(options?: ListTenantsOptions): Promise<Tenant[]>;
  /** Throws TenantStoreError('tenant_not_found'). */
  createKey(options: CreateKeyOptions): Promise<CreatedKey>;
  getKey(keyId: string): Promise<ApiKeyInfo | null>;
  listKeys(tenantId: string): Promise<ApiKeyInfo[]>;
  /** Revokes at `at` (default now), keeping an earlier revocation. Throws TenantStoreError('key_not_found'). */
  revokeKey(keyId: string, at?: number): Promise<ApiKeyInfo>;
  /**
   * A new key for the same tenant, the old one revoked at `revokeOldAt`. Throws 'key_not_found', 'key_revoked', and
   * 'key_expired' (an expired key is not rotated: create a new one, deliberately, instead).
   */
  rotateKey(oldKeyId: string, options: RotateKeyOptions): Promise<RotatedKey>;
}

export type TenantStoreErrorCode =
  'tenant_not_found' | 'key_not_found' | 'key_revoked' | 'key_expired';

/** A domain error from the store; admin-routes maps `code` to 404/400. */
export class TenantStoreError extends Error {
  override name = 'TenantStoreError';
  constructor(
    readonly code: TenantStoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}
