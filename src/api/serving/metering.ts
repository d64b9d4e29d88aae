/**
 * Limits and metering around one generation: admission against the tenant's limits (429 with rate headers when
 * refused), then exactly one settlement when the work ends — the limiter's lease released with the tokens really
 * used, one usage record, one log line. The settlement outlives the response (waitUntil on Workers).
 */
import type { Context } from 'hono';
import { ApiError } from '../errors.ts';
import type { Limiter, Tenant, TenantStore } from '../tenancy.ts';

export interface MeterOptions {
  limiter: Limiter;
  tenants: TenantStore;
  log?: (line: string) => void;
}

/** How a generation ended, for the lease, the usage record and the log line. */
export interface Outcome {
  promptTokens: number;
  completionTokens: number;
  status: number;
}

export interface MeteredRequest {
  /** Rate-limit headers for the response. */
  headers: Record<string, string>;
  /** Ends the lease and records usage; later calls do nothing. */
  settle(outcome: Outcome): void;
}

export interface AdmitOptions {
  tenant: Tenant;
  /** Which model and backend serve it (for the usage record). */
  model: string;
  backend: () => string;
  /** Tokens reserved against the tenant's token limits until the request settles. */
  reservedTokens: number;
}

/** @example const metered = await meter(c, { tenant, model, backend, reservedTokens }); … metered.settle(outcome) */
export function createMeter({ limiter, tenants, log }: MeterOptions) {
  return async function meter(c: Context, o: AdmitOptions): Promise<MeteredRequest> {
    const started = Date.now();
    const { tenant } = o;
    const admission = await limiter.admit(tenant, o.reservedTokens);
    const headers = Object.fromEntries(
      Object.entries(admission.headers).filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
    if (!admission.ok) {
      const { refusal } = admission;
      throw new ApiError(
        429,
        refusal.code === 'insufficient_quota' ? 'insufficient_quota' : 'rate_limit_error',
        refusal.message,
        { code: refusal.code, headers, retryAfterSeconds: refusal.retryAfterSeconds },
      );
    }
    const requestId = c.get('requestId');
    let settled = false;
    return {
      headers,
      settle(outcome: Outcome) {
        if (settled) return;
        settled = true;
        const work = Promise.all([
          limiter.release(
            tenant,
            admission.leaseId,
            outcome.promptTokens + outcome.completionTokens,
          ),
          tenants.recordUsage({
            tenantId: tenant.id,
            keyId: c.get('keyId'),
            requestId,
            model: o.model,
            backend: o.backend(),
            promptTokens: outcome.promptTokens,
            completionTokens: outcome.completionTokens,
            status: outcome.status,
            durationMs: Date.now() - started,
            at: Date.now(),
          }),
        ]).catch((e: unknown) => log?.(`metering failed: ${(e as Error).name}`));
        try {
          c.executionCtx.waitUntil(work);
        } catch {
          /* Node: no execution context; the promise runs anyway */
        }
        const client = c.get('clientRequestId');
        log?.(
          `${c.req.path} request=${requestId}${client ? ` client_request=${client}` : ''} tenant=${tenant.id} model=${o.model} status=${outcome.status} prompt=${outcome.promptTokens} completion=${outcome.completionTokens}`,
        );
      },
    };
  };
}

export type Meter = ReturnType<typeof createMeter>;
