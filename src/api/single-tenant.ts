/**
 * A TenantStore with a fixed set of keys and an in-memory usage log, plus a limiter that admits everything:
 * for single-tenant deployments without D1 (a Node server behind its own gateway) and for route tests.
 */
import type {
  Admission,
  Limiter,
  Reservation,
  Tenant,
  TenantStore,
  UsageRecord,
  UsageSummary,
} from './tenancy.ts';
import { summarizeRecords } from './usage-summary.ts';
import { constantTimeEqual, sha256Hex } from './secrets.ts';

export function openTenant(id: string, overrides: Partial<Tenant> = {}): Tenant {
  return {
    id,
    name: id,
    models: null,
    rpm: null,
    tpm: null,
    maxConcurrent: null,
    maxTokens: null,
    budgetTokens: null,
    budgetPeriod: null,
    degradeToEdge: false,
    createdAt: 0,
    ...overrides,
  };
}

export class StaticTenantStore implements TenantStore {
  private readonly entries: { hash: Promise<string>; tenant: Tenant; keyId: string }[];
  readonly records: UsageRecord[] = [];

  /** @param keys api key → tenant */
  constructor(keys: Record<string, Tenant>) {
    this.entries = Object.entries(keys).map(([key, tenant], i) => ({
      hash: sha256Hex(key),
      tenant,
      keyId: `key_${i}`,
    }));
  }

  async authenticate(apiKey: string | null) {
    if (!apiKey) return { ok: false as const, reason: 'missing' as const };
    const hash = await sha256Hex(apiKey);
    let found: (typeof this.entries)[number] | undefined;
    for (const e of this.entries) if (constantTimeEqual(await e.hash, hash)) found = e;
    return found
      ? { ok: true as const, tenant: found.tenant, keyId: found.keyId }
      : { ok: false as const, reason: 'invalid' as const };
  }

  async recordUsage(record: UsageRecord): Promise<void> {
    this.records.push(record);
  }

  async usage(tenantId: string, since = 0): Promise<UsageSummary> {
    return summarizeRecords(this.records, tenantId, since);
  }
}

export const unlimited: Limiter = {
  async admit(): Promise<Admission> {
    return { ok: true, leaseId: crypto.randomUUID(), headers: {} };
  },
  async reserve(): Promise<Reservation> {
    return { ok: true, headers: {} };
  },
  async release(): Promise<void> {},
};
