/** What a tenant's Durable Object needs from D1 to authenticate its keys: the tenant and its key hashes. */
import type { D1Database } from '@cloudflare/workers-types';
import type { Tenant } from '../../api/tenancy.ts';
import { toTenant, type TenantRow } from './rows.ts';

export interface DirectoryKey {
  id: string;
  hash: string;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface TenantDirectory {
  tenant: Tenant;
  keys: DirectoryKey[];
}

interface HashRow {
  id: string;
  hash: string;
  expires_at: number | null;
  revoked_at: number | null;
}

/** The tenant and all its keys (hashes, expiry, revocation) in one D1 round trip; null for an unknown tenant. */
export async function readTenantDirectory(
  db: D1Database,
  tenantId: string,
): Promise<TenantDirectory | null> {
  const [tenants, keys] = await db.batch<unknown>([
    db.prepare('SELECT * FROM tenants WHERE id = ?1').bind(tenantId),
    db
      .prepare('SELECT id, hash, expires_at, revoked_at FROM api_keys WHERE tenant_id = ?1')
      .bind(tenantId),
  ]);
  const row = tenants.results[0] as TenantRow | undefined;
  if (!row) return null;
  return {
    tenant: toTenant(row),
    keys: (keys.results as HashRow[]).map((k) => ({
      id: k.id,
      hash: k.hash,
      expiresAt: k.expires_at,
      revokedAt: k.revoked_at,
    })),
  };
}
