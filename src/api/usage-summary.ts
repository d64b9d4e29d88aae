/** Sums in-memory usage records into a UsageSummary (per model, in name order), as the D1 store's SQL does. */
import type { UsageRecord, UsageSummary } from './tenancy.ts';

export function summarizeRecords(
  records: Iterable<UsageRecord>,
  tenantId: string,
  since: number,
): UsageSummary {
  const summary: UsageSummary = {
    tenantId,
    since,
    requests: 0,
    promptTokens: 0,
    completionTokens: 0,
    byModel: {},
  };
  for (const r of records) {
    if (r.tenantId !== tenantId || r.at < since) continue;
    summary.requests++;
    summary.promptTokens += r.promptTokens;
    summary.completionTokens += r.completionTokens;
    const m = (summary.byModel[r.model] ??= { requests: 0, promptTokens: 0, completionTokens: 0 });
    m.requests++;
    m.promptTokens += r.promptTokens;
    m.completionTokens += r.completionTokens;
  }
  summary.byModel = Object.fromEntries(
    Object.entries(summary.byModel).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return summary;
}
