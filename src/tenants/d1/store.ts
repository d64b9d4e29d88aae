/**
 * The tenant store over D1: tenants, API keys (SHA-256 hashes) and usage. `authenticate` reads D1 on every
 * call, with no cache, so a revocation or expiry takes effect on the very next request (KV would lag ~60 s).
 */
import type { D1Database } from '@cloudflare/workers-types';
import type { AuthOutcome, Tenant, UsageRecord, UsageSummary } from '../../api/tenancy.ts';
import {
  KEY_COLUMNS,
  tenantColumns,
  toKeyInfo,
  toTenant,
  type KeyRow,
  type TenantRow,
} from './rows.ts';
import { defaultSince, insertUsage, summarizeUsage } from './usage.ts';
import {
  constantTimeEqual,
  generateApiKey,
  hashApiKey,
  keyHint,
  looksLikeApiKey,
  newKeyId,
  newTenantId,
  rotationExpiry,
} from '../keys.ts';
import {
  TenantStoreError,
  type ApiKeyInfo,
  type CreatedKey,
  type CreateKeyOptions,
  type ListTenantsOptions,
  type RotatedKey,
  type RotateKeyOptions,
  type TenantAdminStore,
  type TenantInput,
  type TenantPatch,
} from '../types.ts';

export interface D1TenantStoreOptions {
  /** The D1 binding with migrations/0001_init.sql applied. */
  db: D1Database;
  /** Clock in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

interface AuthRow extends TenantRow {
  key_id: string;
  key_hash: string;
  key_expires_at: number | null;
  key_revoked_at: number | null;
}

/**
 * Creates the D1-backed store (cheap; build it per request from `env.DB`).
 * @example
 * const store = createD1TenantStore({ db: env.DB });
 * const auth = await store.authenticate(bearerToken);
 */
export function createD1TenantStore(options: D1TenantStoreOptions): TenantAdminStore {
  const { db, now = Date.now } = options;

  const getTenant = async (id: string): Promise<Tenant | null> => {
    const row = await db.prepare('SELECT * FROM tenants WHERE id = ?1').bind(id).first<TenantRow>();
    return row ? toTenant(row) : null;
  };
  const requireTenant = async (id: string): Promise<Tenant> => {
    const tenant = await getTenant(id);
    if (!tenant) throw new TenantStoreError('tenant_not_found', `No tenant with id '${id}'.`);
    return tenant;
  };
  const getKey = async (keyId: string): Promise<ApiKeyInfo | null> => {
    const row = await db
      .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ?1`)
      .bind(keyId)
      .first<KeyRow>();
    return row ? toKeyInfo(row) : null;
  };
  const mintKey = async (tenantId: string, expiresAt: number | null) => {
    const key = generateApiKey(tenantId);
    const info: ApiKeyInfo = {
      id: newKeyId(),
      tenantId,
      hint: keyHint(key),
      createdAt: now(),
      expiresAt,
      revokedAt: null,
    };
    const insert = db
      .prepare(
        'INSERT INTO api_keys (id, tenant_id, hash, hint, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)',
      )
      .bind(info.id, tenantId, await hashApiKey(key), info.hint, info.createdAt, expiresAt);
    return { created: { ...info, key } satisfies CreatedKey, insert };
  };

  return {
    // The lookup is by the full SHA-256 (a unique index): timing there reveals only facts about the hash of the
    // caller's own guess, which does not help find a key. The fetched hash is still compared in constant time.
    async authenticate(apiKey: string | null): Promise<AuthOutcome> {
      if (!apiKey) return { ok: false, reason: 'missing' };
      if (!looksLikeApiKey(apiKey)) return { ok: false, reason: 'invalid' };
      const hash = await hashApiKey(apiKey);
      const row = await db
        .prepare(
          `SELECT t.*, k.id AS key_id, k.hash AS key_hash, k.expires_at AS key_expires_at, k.revoked_at AS key_revoked_at
           FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.hash = ?1`,
        )
        .bind(hash)
        .first<AuthRow>();
      if (!row || !constantTimeEqual(row.key_hash, hash)) return { ok: false, reason: 'invalid' };
      const at = now();
      if (row.key_revoked_at !== null && row.key_revoked_at <= at)
        return { ok: false, reason: 'revoked' };
      if (row.key_expires_at !== null && row.key_expires_at <= at)
        return { ok: false, reason: 'expired' };
      return { ok: true, tenant: toTenant(row), keyId: row.key_id };
    },

    recordUsage: (record: UsageRecord) => insertUsage(db, record),

    async usage(tenantId: string, since?: number): Promise<UsageSummary> {
      const tenant = await requireTenant(tenantId);
      const at = now();
      return summarizeUsage(db, tenant, since ?? defaultSince(tenant, at), at);
    },

    async createTenant(input: TenantInput): Promise<Tenant> {
      const budgetPeriod =
        input.budgetTokens != null ? (input.budgetPeriod ?? 'month') : (input.budgetPeriod ?? null);
      const columns = tenantColumns({ ...input, budgetPeriod });
      const id = newTenantId();
      const at = now();
      const names = ['id', ...columns.map(([column]) => column), 'created_at', 'updated_at'];
      const values = [id, ...columns.map(([, value]) => value), at, at];
      const placeholders = values.map((_, i) => `?${i + 1}`).join(', ');
      const row = await db
        .prepare(`INSERT INTO tenants (${names.join(', ')}) VALUES (${placeholders}) RETURNING *`)
        .bind(...values)
        .first<TenantRow>();
      if (!row) throw new Error('D1 returned no row for INSERT … RETURNING');
      return toTenant(row);
    },

    getTenant,

    async updateTenant(id: string, patch: TenantPatch): Promise<Tenant> {
      const columns = tenantColumns(patch);
      if (columns.length === 0) return requireTenant(id);
      const sets = columns.map(([column], i) => `${column} = ?${i + 2}`).join(', ');
      const row = await db
        .prepare(
          `UPDATE tenants SET ${sets}, updated_at = ?${columns.length + 2} WHERE id = ?1 RETURNING *`,
        )
        .bind(id, ...columns.map(([, value]) => value), now())
        .first<TenantRow>();
      if (!row) throw new TenantStoreError('tenant_not_found', `No tenant with id '${id}'.`);
      return toTenant(row);
    },

    async listTenants(options: ListTenantsOptions = {}): Promise<Tenant[]> {
      const limit = Math.min(1000, Math.max(1, options.limit ?? 100));
      const { results } = await db
        .prepare('SELECT * FROM tenants WHERE id > ?1 ORDER BY id LIMIT ?2')
        .bind(options.after ?? '', limit)
        .all<TenantRow>();
      return results.map(toTenant);
    },

    async createKey({ tenantId, expiresAt = null }: CreateKeyOptions): Promise<CreatedKey> {
      await requireTenant(tenantId);
      const { created, insert } = await mintKey(tenantId, expiresAt);
      await insert.run();
      return created;
    },

    getKey,

    async listKeys(tenantId: string): Promise<ApiKeyInfo[]> {
      await requireTenant(tenantId);
      const { results } = await db
        .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant_id = ?1 ORDER BY created_at, id`)
        .bind(tenantId)
        .all<KeyRow>();
      return results.map(toKeyInfo);
    },

    async revokeKey(keyId: string, at: number = now()): Promise<ApiKeyInfo> {
      const row = await db
        .prepare(
          `UPDATE api_keys SET revoked_at = MIN(COALESCE(revoked_at, ?2), ?2) WHERE id = ?1 RETURNING ${KEY_COLUMNS}`,
        )
        .bind(keyId, at)
        .first<KeyRow>();
      if (!row) throw new TenantStoreError('key_not_found', `No API key with id '${keyId}'.`);
      return toKeyInfo(row);
    },

    async rotateKey(
      oldKeyId: string,
      { revokeOldAt, expiresAt }: RotateKeyOptions,
    ): Promise<RotatedKey> {
      const old = await getKey(oldKeyId);
      if (!old) throw new TenantStoreError('key_not_found', `No API key with id '${oldKeyId}'.`);
      const { created, insert } = await mintKey(
        old.tenantId,
        rotationExpiry(old, now(), expiresAt),
      );
      const revoke = db
        .prepare(
          `UPDATE api_keys SET revoked_at = MIN(COALESCE(revoked_at, ?2), ?2) WHERE id = ?1 RETURNING ${KEY_COLUMNS}`,
        )
        .bind(oldKeyId, revokeOldAt);
      const [, revoked] = await db.batch<KeyRow>([insert, revoke]); // one transaction: both or neither
      const replaced = revoked.results[0];
      return {
        ...created,
        replaced: replaced ? toKeyInfo(replaced) : { ...old, revokedAt: revokeOldAt },
      };
    },
  };
}
