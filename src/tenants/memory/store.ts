/**
 * The tenant store held in memory, for one process (the Node server, tests): the same semantics as the D1 store
 * (hashed keys, revocation and expiry on the next call, rotation, usage with a budget window, a repeated request
 * id counted once). Durability is the caller's: `persist` receives every admin change as a whole snapshot and
 * `appendUsage` every new usage record (backends/node/api/file-tenant-store.ts writes them to files).
 */
import { openTenant } from '../../api/single-tenant.ts';
import type {
  AuthOutcome,
  BudgetSummary,
  Tenant,
  UsageRecord,
  UsageSummary,
} from '../../api/tenancy.ts';
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
import { periodWindow } from '../periods.ts';
import { summarizeRecords } from '../../api/usage-summary.ts';
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

/** A stored key: its info and the SHA-256 of the key (never the key). */
export interface StoredKey extends ApiKeyInfo {
  hash: string;
}

/** Everything an admin change can alter: what `persist` receives and `initial` restores. */
export interface TenantSnapshot {
  tenants: Tenant[];
  keys: StoredKey[];
}

export interface MemoryTenantStoreOptions {
  initial?: TenantSnapshot;
  /** Usage recorded before (e.g. read back from a log), replayed into the summaries. */
  usage?: Iterable<UsageRecord>;
  /** Called after each admin change, in order, before the change's call returns; if it fails the change is undone. */
  persist?: (snapshot: TenantSnapshot) => Promise<void>;
  /** Called once per new (tenant, request id). */
  appendUsage?: (record: UsageRecord) => Promise<void>;
  /** Clock in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

const info = ({ hash: _hash, ...key }: StoredKey): ApiKeyInfo => ({ ...key });

/** Fields present in `input` (undefined = absent) applied to `tenant`, with the D1 store's budget default. */
function applyInput(tenant: Tenant, input: TenantPatch): Tenant {
  const next = { ...tenant };
  for (const [field, value] of Object.entries(input) as [keyof TenantInput, unknown][]) {
    if (value !== undefined)
      (next as Record<string, unknown>)[field] = Array.isArray(value) ? [...value] : value;
  }
  // A budget without a period is monthly (the documented default).
  if (next.budgetTokens !== null && next.budgetPeriod === null) next.budgetPeriod = 'month';
  return next;
}

export interface MemoryTenantStore extends TenantAdminStore {
  /** Prompt + completion tokens a tenant used in [start, end): seeds a limiter's budget after a restart. */
  usedTokens(tenantId: string, start: number, end: number): number;
}

export function createMemoryTenantStore(options: MemoryTenantStoreOptions = {}): MemoryTenantStore {
  const { persist = async () => {}, appendUsage = async () => {}, now = Date.now } = options;
  const tenants = new Map<string, Tenant>(
    (options.initial?.tenants ?? []).map((t) => [t.id, { ...t }]),
  );
  const keys = new Map<string, StoredKey>(
    (options.initial?.keys ?? []).map((k) => [k.id, { ...k }]),
  );
  const byHash = new Map<string, StoredKey>([...keys.values()].map((k) => [k.hash, k]));
  const usage: UsageRecord[] = [];
  const seen = new Set<string>();
  const remember = (r: UsageRecord) => {
    const id = `${r.tenantId}\u0000${r.requestId}`;
    if (seen.has(id)) return false;
    seen.add(id);
    usage.push(r);
    return true;
  };
  for (const r of options.usage ?? []) remember(r);

  const snapshot = (): TenantSnapshot => ({
    tenants: [...tenants.values()].map((t) => ({ ...t })),
    keys: [...keys.values()].map((k) => ({ ...k })),
  });
  const restore = (s: TenantSnapshot) => {
    tenants.clear();
    keys.clear();
    byHash.clear();
    for (const t of s.tenants) tenants.set(t.id, t);
    for (const k of s.keys) {
      keys.set(k.id, k);
      byHash.set(k.hash, k);
    }
  };
  // Admin changes run one at a time, each persisted before the next starts and before it returns; a change
  // that fails, or cannot be persisted, is undone.
  let queue: Promise<unknown> = Promise.resolve();
  const change = <T>(apply: () => Promise<T> | T): Promise<T> => {
    const run = queue.then(async () => {
      const before = snapshot();
      try {
        const result = await apply();
        await persist(snapshot());
        return result;
      } catch (e: unknown) {
        restore(before);
        throw e;
      }
    });
    queue = run.catch(() => {});
    return run;
  };

  const requireTenant = (id: string): Tenant => {
    const tenant = tenants.get(id);
    if (!tenant) throw new TenantStoreError('tenant_not_found', `No tenant with id '${id}'.`);
    return tenant;
  };
  const requireKey = (id: string): StoredKey => {
    const key = keys.get(id);
    if (!key) throw new TenantStoreError('key_not_found', `No API key with id '${id}'.`);
    return key;
  };
  const mintKey = async (tenantId: string, expiresAt: number | null): Promise<CreatedKey> => {
    const key = generateApiKey(tenantId);
    const stored: StoredKey = {
      id: newKeyId(),
      tenantId,
      hint: keyHint(key),
      createdAt: now(),
      expiresAt,
      revokedAt: null,
      hash: await hashApiKey(key),
    };
    keys.set(stored.id, stored);
    byHash.set(stored.hash, stored);
    return { ...info(stored), key };
  };
  const revoke = (key: StoredKey, at: number) => {
    key.revokedAt = key.revokedAt === null ? at : Math.min(key.revokedAt, at);
    return info(key);
  };

  const usedTokens = (tenantId: string, start: number, end: number): number => {
    let used = 0;
    for (const r of usage)
      if (r.tenantId === tenantId && r.at >= start && r.at < end)
        used += r.promptTokens + r.completionTokens;
    return used;
  };
  const budgetOf = (tenant: Tenant, at: number): BudgetSummary | undefined => {
    if (tenant.budgetTokens === null || tenant.budgetPeriod === null) return undefined;
    const { start, end } = periodWindow(tenant.budgetPeriod, at);
    const used = usedTokens(tenant.id, start, end);
    return {
      period: tenant.budgetPeriod,
      periodStart: start,
      periodEnd: end,
      limitTokens: tenant.budgetTokens,
      usedTokens: used,
      remainingTokens: Math.max(0, tenant.budgetTokens - used),
    };
  };

  return {
    usedTokens,

    async authenticate(apiKey: string | null): Promise<AuthOutcome> {
      if (!apiKey) return { ok: false, reason: 'missing' };
      if (!looksLikeApiKey(apiKey)) return { ok: false, reason: 'invalid' };
      const hash = await hashApiKey(apiKey);
      const key = byHash.get(hash);
      if (!key || !constantTimeEqual(key.hash, hash)) return { ok: false, reason: 'invalid' };
      const at = now();
      if (key.revokedAt !== null && key.revokedAt <= at) return { ok: false, reason: 'revoked' };
      if (key.expiresAt !== null && key.expiresAt <= at) return { ok: false, reason: 'expired' };
      const tenant = tenants.get(key.tenantId);
      return tenant
        ? { ok: true, tenant: { ...tenant }, keyId: key.id }
        : { ok: false, reason: 'invalid' };
    },

    async recordUsage(record: UsageRecord): Promise<void> {
      if (!remember(record)) return;
      try {
        await appendUsage(record);
      } catch (e: unknown) {
        // Not durable: forget it, so a retry of the same record is not taken for a duplicate.
        seen.delete(`${record.tenantId}\u0000${record.requestId}`);
        usage.splice(usage.lastIndexOf(record), 1);
        throw e;
      }
    },

    async usage(tenantId: string, since?: number): Promise<UsageSummary> {
      const tenant = requireTenant(tenantId);
      const at = now();
      const from = since ?? periodWindow(tenant.budgetPeriod ?? 'month', at).start;
      const summary = summarizeRecords(usage, tenantId, from);
      const budget = budgetOf(tenant, at);
      if (budget) summary.budget = budget;
      return summary;
    },

    createTenant: (input: TenantInput) =>
      change(() => {
        const at = now();
        const base = openTenant(newTenantId(), { name: input.name, createdAt: at });
        const tenant = applyInput(base, input);
        tenants.set(tenant.id, tenant);
        return { ...tenant };
      }),

    async getTenant(id: string): Promise<Tenant | null> {
      const tenant = tenants.get(id);
      return tenant ? { ...tenant } : null;
    },

    updateTenant: (id: string, patch: TenantPatch) =>
      change(() => {
        const tenant = applyInput(requireTenant(id), patch);
        tenants.set(id, tenant);
        return { ...tenant };
      }),

    async listTenants(o: ListTenantsOptions = {}): Promise<Tenant[]> {
      const limit = Math.min(1000, Math.max(1, o.limit ?? 100));
      return [...tenants.values()]
        .filter((t) => t.id > (o.after ?? ''))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, limit)
        .map((t) => ({ ...t }));
    },

    createKey: ({ tenantId, expiresAt = null }: CreateKeyOptions) =>
      change(() => {
        requireTenant(tenantId);
        return mintKey(tenantId, expiresAt);
      }),

    async getKey(keyId: string): Promise<ApiKeyInfo | null> {
      const key = keys.get(keyId);
      return key ? info(key) : null;
    },

    async listKeys(tenantId: string): Promise<ApiKeyInfo[]> {
      requireTenant(tenantId);
      return [...keys.values()]
        .filter((k) => k.tenantId === tenantId)
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
        .map(info);
    },

    revokeKey: (keyId: string, at?: number) => change(() => revoke(requireKey(keyId), at ?? now())),

    rotateKey: (oldKeyId: string, { revokeOldAt, expiresAt }: RotateKeyOptions) =>
      change(async (): Promise<RotatedKey> => {
        const old = requireKey(oldKeyId);
        const created = await mintKey(old.tenantId, rotationExpiry(old, now(), expiresAt));
        return { ...created, replaced: revoke(old, revokeOldAt) };
      }),
  };
}
