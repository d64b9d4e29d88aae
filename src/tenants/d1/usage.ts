/** Usage metering over D1: one row per request, summaries per tenant and the current budget period. */
import type { D1Database } from '@cloudflare/workers-types';
import type { BudgetSummary, Tenant, UsageRecord, UsageSummary } from '../../api/tenancy.ts';
import { periodWindow } from '../periods.ts';

interface ModelUsageRow {
  model: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}

/** Inserts one usage row; a repeated (tenant, request id) is ignored, so a retried write never counts twice. */
export async function insertUsage(db: D1Database, record: UsageRecord): Promise<void> {
  await usageInsert(db, record).run();
}

/** The INSERT of one usage row (idempotent per tenant and request id), for a batch of them. */
export function usageInsert(db: D1Database, record: UsageRecord) {
  return db
    .prepare(
      `INSERT OR IGNORE INTO usage (tenant_id, key_id, request_id, model, backend, prompt_tokens, completion_tokens,
       status, duration_ms, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
    )
    .bind(
      record.tenantId,
      record.keyId,
      record.requestId,
      record.model,
      record.backend,
      record.promptTokens,
      record.completionTokens,
      record.status,
      Math.round(record.durationMs),
      record.at,
    );
}

/** Default start of a summary: the current budget period, or the current UTC month without a budget. */
export function defaultSince(tenant: Tenant, now: number): number {
  return periodWindow(tenant.budgetPeriod ?? 'month', now).start;
}

/** Requests and tokens of `tenant` since `since`, by model, plus budget consumption in the current period. */
export async function summarizeUsage(
  db: D1Database,
  tenant: Tenant,
  since: number,
  now: number,
): Promise<UsageSummary> {
  const { results } = await db
    .prepare(
      `SELECT model, COUNT(*) AS requests, SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens
       FROM usage WHERE tenant_id = ?1 AND at >= ?2 GROUP BY model ORDER BY model`,
    )
    .bind(tenant.id, since)
    .all<ModelUsageRow>();
  const summary: UsageSummary = {
    tenantId: tenant.id,
    since,
    requests: 0,
    promptTokens: 0,
    completionTokens: 0,
    byModel: {},
  };
  for (const row of results) {
    summary.requests += row.requests;
    summary.promptTokens += row.prompt_tokens;
    summary.completionTokens += row.completion_tokens;
    summary.byModel[row.model] = {
      requests: row.requests,
      promptTokens: row.prompt_tokens,
      completionTokens: row.completion_tokens,
    };
  }
  const budget = await budgetSummary(db, tenant, now);
  if (budget) summary.budget = budget;
  return summary;
}

async function budgetSummary(
  db: D1Database,
  tenant: Tenant,
  now: number,
): Promise<BudgetSummary | null> {
  if (tenant.budgetTokens === null || tenant.budgetPeriod === null) return null;
  const { start, end } = periodWindow(tenant.budgetPeriod, now);
  const row = await db
    .prepare(
      `SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS used FROM usage
       WHERE tenant_id = ?1 AND at >= ?2 AND at < ?3`,
    )
    .bind(tenant.id, start, end)
    .first<{ used: number }>();
  const usedTokens = row?.used ?? 0;
  return {
    period: tenant.budgetPeriod,
    periodStart: start,
    periodEnd: end,
    limitTokens: tenant.budgetTokens,
    usedTokens,
    remainingTokens: Math.max(0, tenant.budgetTokens - usedTokens),
  };
}
