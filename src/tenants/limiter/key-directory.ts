/**
 * The tenant's keys as its Durable Object holds them: read from D1 (the store of record) on first use and kept in
 * memory until the admin API says something changed (`invalidate`, awaited by every admin write before it
 * answers), so a revocation, a new expiry or a tenant update is effective on the next request. A read that was
 * under way when an invalidation arrived is used by the request that started it but never kept.
 */
import type { AuthFailure, Tenant } from '../../api/tenancy.ts';
import type { TenantDirectory } from '../d1/directory.ts';
import { constantTimeEqual } from '../keys.ts';

export type DirectoryReader = (tenantId: string) => Promise<TenantDirectory | null>;

export type KeyCheck =
  { ok: true; tenant: Tenant; keyId: string } | { ok: false; reason: AuthFailure };

export class KeyDirectory {
  private cached: TenantDirectory | null = null;
  private epoch = 0;

  constructor(private readonly read: DirectoryReader) {}

  /** Forgets what was read; the next check reads D1 again. */
  invalidate(): void {
    this.cached = null;
    this.epoch++;
  }

  async directory(tenantId: string): Promise<TenantDirectory | null> {
    if (this.cached?.tenant.id === tenantId) return this.cached;
    const epoch = this.epoch;
    const fresh = await this.read(tenantId);
    if (fresh && epoch === this.epoch) this.cached = fresh;
    return fresh;
  }

  /** Authenticates a key of `tenantId` by its SHA-256 hash at time `now`. */
  async check(tenantId: string, keyHash: string, now: number): Promise<KeyCheck> {
    const directory = await this.directory(tenantId);
    // Compare against every key in constant time each, so timing says nothing about which one matched.
    let match: TenantDirectory['keys'][number] | undefined;
    for (const key of directory?.keys ?? []) if (constantTimeEqual(key.hash, keyHash)) match = key;
    if (!directory || !match) return { ok: false, reason: 'invalid' };
    if (match.revokedAt !== null && match.revokedAt <= now) return { ok: false, reason: 'revoked' };
    if (match.expiresAt !== null && match.expiresAt <= now) return { ok: false, reason: 'expired' };
    return { ok: true, tenant: directory.tenant, keyId: match.id };
  }
}
