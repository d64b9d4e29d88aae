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
  /**
   * Optional, for a limiter with `admitWithKey`: when the key names its tenant and the tenant's record is at hand
   * without a round trip, the key's check can ride on the admission call instead of costing one of its own. The
   * record is a copy the admission call confirms is current (else it answers `staleTenant`); null: authenticate.
   */
  deferAuthentication?(apiKey: string): DeferredAuth | null;
}

/** A key whose check is left to the admission call, and the tenant it names as last seen. */
export interface DeferredAuth {
  apiKey: string;
  tenant: Tenant;
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
  | { ok: true; leaseId: string; headers: RateHeaders; keyId?: string }
  | { ok: false; refusal: Refusal; headers: RateHeaders };

/**
 * The answer of `admitWithKey`: an admission (with the key's id), or the key failed (nothing admitted), or the
 * tenant's record changed since the copy the request was checked against (nothing admitted: check again, retry).
 */
export type KeyedAdmission =
  Admission | { ok: false; auth: AuthFailure } | { ok: false; staleTenant: Tenant };

/**
 * The answer of `screenKey`: the key failed, or the tenant can run nothing now (the refusal `admit` would give a
 * request of any size), or neither (`ok`: nothing reserved; the request is still admitted later).
 */
export type KeyScreen =
  | { ok: true }
  | { ok: false; auth: AuthFailure }
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
  /**
   * Ends a lease: frees its concurrency slot and reconciles the reservation with the tokens really used. With
   * `usage` (only when `recordsUsage`), the limiter also records the request's usage, so one call does both.
   */
  release(tenant: Tenant, leaseId: string, usedTokens: number, usage?: UsageRecord): Promise<void>;
  /** True when `release` records the usage it is given (the TenantStore's recordUsage is then not called). */
  readonly recordsUsage?: boolean;
  /**
   * True when `release` is a remote call (the Worker's Durable Object) that the response need not wait for: it is
   * then started once the answer is in the runtime's hands, so none of its work is on the response's path. Such a
   * release is never ordered before the client's next request anyway; an in-process one is, so it is not deferred.
   */
  readonly releaseAfterResponse?: boolean;
  /**
   * Optional: authenticates a deferred key and admits its request in ONE call, against the limiter's own copy of
   * the tenant's limits (one round trip before the model starts instead of two or three).
   */
  admitWithKey?(auth: DeferredAuth, reservedTokens: number): Promise<KeyedAdmission>;
  /**
   * Optional, for a limiter that answers without a round trip: the refusal `admit` would give a request of any
   * size now (budget spent, concurrency full, no request left this minute), or null. Changes nothing; lets the
   * API answer such a request 429 before it reads and parses the body.
   */
  refusesAny?(tenant: Tenant): Promise<{ refusal: Refusal; headers: RateHeaders } | null>;
  /**
   * Optional, for a limiter with `admitWithKey` (a round trip per call): checks a deferred key and whether its
   * tenant can run anything now, against the limiter's own copy of the limits. Reserves nothing; worth its extra
   * round trip only before a large body is read (see early-refusal.ts).
   */
  screenKey?(auth: DeferredAuth): Promise<KeyScreen>;
}
