/** Row shapes of the D1 tables and their mapping to Tenant / ApiKeyInfo (snake_case columns, epoch ms). */
import type { Tenant } from '../../api/tenancy.ts';
import type { ApiKeyInfo, TenantInput } from '../types.ts';

export interface TenantRow {
  id: string;
  name: string;
  models: string | null;
  rpm: number | null;
  tpm: number | null;
  max_concurrent: number | null;
  max_tokens: number | null;
  budget_tokens: number | null;
  budget_period: 'day' | 'month' | null;
  degrade_to_edge: number;
  created_at: number;
}

export interface KeyRow {
  id: string;
  tenant_id: string;
  hint: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

/** Key columns safe to select for display (no hash). */
export const KEY_COLUMNS = 'id, tenant_id, hint, created_at, expires_at, revoked_at';

/** TenantInput field → column, for INSERT and PATCH. */
const COLUMNS: Record<keyof TenantInput, string> = {
  name: 'name',
  models: 'models',
  rpm: 'rpm',
  tpm: 'tpm',
  maxConcurrent: 'max_concurrent',
  maxTokens: 'max_tokens',
  budgetTokens: 'budget_tokens',
  budgetPeriod: 'budget_period',
  degradeToEdge: 'degrade_to_edge',
};

export function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    name: row.name,
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    rpm: row.rpm,
    tpm: row.tpm,
    maxConcurrent: row.max_concurrent,
    maxTokens: row.max_tokens,
    budgetTokens: row.budget_tokens,
    // A budget without a period is monthly (the documented default), whichever write left it so.
    budgetPeriod: row.budget_tokens === null ? row.budget_period : (row.budget_period ?? 'month'),
    degradeToEdge: row.degrade_to_edge !== 0,
    createdAt: row.created_at,
  };
}

export function toKeyInfo(row: KeyRow): ApiKeyInfo {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    hint: row.hint,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

/** [column, value] pairs for the fields present in `input` (undefined = absent), in SQL-ready form. */
export function tenantColumns(
  input: Partial<TenantInput>,
): Array<[string, string | number | null]> {
  const pairs: Array<[string, string | number | null]> = [];
  for (const field of Object.keys(COLUMNS) as Array<keyof TenantInput>) {
    const value = input[field];
    if (value === undefined) continue;
    pairs.push([COLUMNS[field], toSqlValue(value)]);
  }
  return pairs;
}

function toSqlValue(value: string | number | boolean | string[] | null): string | number | null {
  if (Array.isArray(value)) return JSON.stringify(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}
