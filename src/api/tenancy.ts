/**
 * Tenancy contracts the API layer consumes: who is calling (TenantStore), may they run now (Limiter), and
 * what they used (usage records). Implementations: src/tenants/ (D1 + a Durable Object per tenant).
 */

export interface Tenant {
  id: string;
  name: string;
  /** Model ids the tenant may use; null = all. */
  models: string[] | null;
  /** Requests per minute; null = unlimited. */
  rpm: number | null;
  /** Tokens (prompt + completion) per minute; null = unlimited. */
  tpm: number | null;
  maxConcurrent: number | null;
  /** Cap on max_tokens per request; null = the model's limit. */
  maxTokens: number | null;
  /** Token budget per period; null = unlimited. */
  budgetTokens: number | null;
  budgetPeriod: 'day' | 'month' | null;
  /** Degrade to the edge model when the GPU pool is down. */
  degradeToEdge: boolean;
  createdAt: number;
}

export type AuthFailure = 'missing' | 'invalid' | 'revoked' | 'expired';

export type AuthOutcome =
  { ok: true; tenant: Tenant; keyId: string } | { ok: false; reason: AuthFailure };

export interface UsageRecord {
  tenantId: string;
  keyId: string;
  requestId: string;
  model: string;
  backend: string;
  promptTokens: number;
  completionTokens: number;
  /** HTTP status the request ended with (200 for a completed stream). */
  status: number;
  durationMs: number;
  at: number;
}

export interface UsageSummary {
  tenantId: string;
  since: number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  byModel: Record<string, { requests: number; promptTokens: number; completionTokens: number }>;
  /** Consumption of the tenant's token budget in the current period (from recorded usage); absent without a budget. */
  budget?: BudgetSummary;
}

export interface BudgetSummary {
  period: 'day' | 'month';
  periodStart: number;
  periodEnd: number;
  limitTokens: number;
  usedTokens: number;
  remainingTokens: number;
}

export interface TenantStore {
  /** Looks up an API key (constant-time hash compare); revocation and expiry take effect on the next call. */
  authenticate(apiKey: string | null): Promise<AuthOutcome>;
  recordUsage(record: UsageRecord): Promise<void>;
  usage(tenantId: string, since?: number): Promise<UsageSummary>;
}

/** Why a request was refused: 429 with the OpenAI code, and when to retry. */
export interface Refusal {
  code: 'rate_limit_exceeded' | 'insufficient_quota';
  message: string;
  retryAfterSeconds: number;
  /** The same wait in milliseconds, before rounding up to whole seconds (for precise clients and tests). */
  retryAfterMs?: number;
  /** The request exceeds a limit outright (e.g. more tokens than the whole tokens/min limit): no retry helps. */
  permanent?: boolean;
}

export interface RateHeaders {
  'x-ratelimit-limit-requests'?: string;
  'x-ratelimit-remaining-requests'?: string;
  'x-ratelimit-reset-requests'?: string;
  'x-ratelimit-limit-tokens'?: string;
  'x-ratelimit-remaining-tokens'?: string;
  'x-ratelimit-reset-tokens'?: string;
}

export type Admission =
  | { ok: true; leaseId: string; headers: RateHeaders }
  | { ok: false; refusal: Refusal; headers: RateHeaders };

export type Reservation =
  { ok: true; headers: RateHeaders } | { ok: false; refusal: Refusal; headers: RateHeaders };

/**
 * Exact per-tenant limits in two steps, so a request is admitted before any expensive work and charged for what
 * it really is: `admit` (requests/min, concurrency, budget and tokens/min not exhausted, a first reservation of
 * what is known up front) opens a lease; `reserve` raises it once the prompt is counted; `release` settles it.
 */
export interface Limiter {
  /** Admits a request and opens a lease, reserving `reservedTokens` (a lower bound) against the token limits. */
  admit(tenant: Tenant, reservedTokens: number): Promise<Admission>;
  /**
   * Raises the lease's reservation to `reservedTokens` (prompts + max_tokens × choices). A refusal changes
   * nothing; the caller then releases the lease.
   */
  reserve(tenant: Tenant, leaseId: string, reservedTokens: number): Promise<Reservation>;
  /** Ends a lease: frees its concurrency slot and reconciles the reservation with the tokens really used. */
  release(tenant: Tenant, leaseId: string, usedTokens: number): Promise<void>;
}
