/** Admin API bodies (zod, snake_case) and the JSON views of tenants, keys and usage. Times out are ISO 8601. */
import { z } from 'zod';
import type { Tenant, UsageSummary } from '../../api/tenancy.ts';
import type { ApiKeyInfo, CreatedKey, TenantInput } from '../types.ts';

const limit = z.number().int().positive().nullable();
/** A time in: ISO 8601 with offset, or Unix seconds. */
const time = z.union([z.iso.datetime({ offset: true }), z.number().int().nonnegative()]);

export const tenantCreateBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  models: z.array(z.string().min(1).max(200)).min(1).max(1000).nullable().optional(),
  rpm: limit.optional(),
  tpm: limit.optional(),
  max_concurrent: limit.optional(),
  max_tokens: limit.optional(),
  budget_tokens: limit.optional(),
  budget_period: z.enum(['day', 'month']).nullable().optional(),
  degrade_to_edge: z.boolean().optional(),
});

export const tenantPatchBody = tenantCreateBody.partial();

export const keyCreateBody = z.strictObject({ expires_at: time.nullable().optional() });

export const keyRotateBody = z.strictObject({
  /** Default: now (the old key stops at once); a later time gives clients a grace period. */
  revoke_old_at: time.optional(),
  expires_at: time.nullable().optional(),
});

export const usageQuery = z.strictObject({
  since: z
    .union([z.iso.datetime({ offset: true }), z.coerce.number().int().nonnegative()])
    .optional(),
});

/** Epoch ms from an accepted time (ISO string or Unix seconds). */
export function toEpochMs(value: string | number): number {
  return typeof value === 'number' ? value * 1000 : Date.parse(value);
}

export function toTenantInput(body: z.infer<typeof tenantPatchBody>): Partial<TenantInput> {
  const input: Partial<TenantInput> = {
    name: body.name,
    models: body.models,
    rpm: body.rpm,
    tpm: body.tpm,
    maxConcurrent: body.max_concurrent,
    maxTokens: body.max_tokens,
    budgetTokens: body.budget_tokens,
    budgetPeriod: body.budget_period,
    degradeToEdge: body.degrade_to_edge,
  };
  for (const key of Object.keys(input) as Array<keyof TenantInput>)
    if (input[key] === undefined) delete input[key];
  return input;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function tenantJson(tenant: Tenant) {
  return {
    id: tenant.id,
    object: 'tenant',
    name: tenant.name,
    models: tenant.models,
    rpm: tenant.rpm,
    tpm: tenant.tpm,
    max_concurrent: tenant.maxConcurrent,
    max_tokens: tenant.maxTokens,
    budget_tokens: tenant.budgetTokens,
    budget_period: tenant.budgetPeriod,
    degrade_to_edge: tenant.degradeToEdge,
    created_at: iso(tenant.createdAt),
  };
}

/** A key's metadata; the secret appears only when `key` is a CreatedKey (the create/rotate response). */
export function keyJson(key: ApiKeyInfo | CreatedKey, now: number) {
  const status =
    key.revokedAt !== null && key.revokedAt <= now
      ? 'revoked'
      : key.expiresAt !== null && key.expiresAt <= now
        ? 'expired'
        : 'active';
  return {
    id: key.id,
    object: 'api_key',
    ...('key' in key ? { key: key.key } : {}),
    tenant_id: key.tenantId,
    hint: key.hint,
    status,
    created_at: iso(key.createdAt),
    expires_at: iso(key.expiresAt),
    revoked_at: iso(key.revokedAt),
  };
}

export function usageJson(summary: UsageSummary) {
  const byModel = Object.fromEntries(
    Object.entries(summary.byModel).map(([model, m]) => [
      model,
      {
        requests: m.requests,
        prompt_tokens: m.promptTokens,
        completion_tokens: m.completionTokens,
      },
    ]),
  );
  const budget = summary.budget;
  return {
    object: 'tenant.usage',
    tenant_id: summary.tenantId,
    since: iso(summary.since),
    requests: summary.requests,
    prompt_tokens: summary.promptTokens,
    completion_tokens: summary.completionTokens,
    total_tokens: summary.promptTokens + summary.completionTokens,
    by_model: byModel,
    budget: budget
      ? {
          period: budget.period,
          period_start: iso(budget.periodStart),
          period_end: iso(budget.periodEnd),
          limit_tokens: budget.limitTokens,
          used_tokens: budget.usedTokens,
          remaining_tokens: budget.remainingTokens,
        }
      : null,
  };
}
