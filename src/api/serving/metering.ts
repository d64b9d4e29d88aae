/**
 * Limits and metering around one generation: admission against the tenant's limits before any expensive work
 * (429 with rate headers when refused), a second reservation once the prompt is counted, then exactly one
 * settlement when the work ends — the limiter's lease released with the tokens really used, one usage record,
 * one log line. On Workers the settlement is registered with waitUntil at admission, so a client that hangs up
 * cannot cancel it (no stuck concurrency slot, no lost usage record).
 */
import type { Context } from 'hono';
import { ApiError } from '../errors.ts';
import type { Limiter, RateHeaders, Refusal, Tenant, TenantStore } from '../tenancy.ts';

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
  /** Rate-limit headers for the response (those of the latest limiter answer). */
  readonly headers: Record<string, string>;
  /** Raises the reservation to `reservedTokens` once the prompt is counted; a refusal throws the 429 and ends the lease. */
  reserve(reservedTokens: number): Promise<void>;
  /** Ends the lease with nothing used and no usage record (the request failed before generating). */
  cancel(): void;
  /** Ends the lease and records usage; later calls (and cancel) do nothing. */
  settle(outcome: Outcome): void;
}

export interface AdmitOptions {
  tenant: Tenant;
  /** Which model and backend serve it (for the usage record). */
  model: string;
  backend: () => string;
  /** Tokens known before the prompt is counted (token-id prompts, max_tokens × choices when given). */
  reservedTokens: number;
}

const headerRecord = (headers: RateHeaders) =>
  Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;

function refusalError(refusal: Refusal, headers: Record<string, string>): ApiError {
  return new ApiError(
    429,
    refusal.code === 'insufficient_quota' ? 'insufficient_quota' : 'rate_limit_error',
    refusal.message,
    {
      code: refusal.code,
      headers,
      ...(refusal.permanent ? {} : { retryAfterSeconds: refusal.retryAfterSeconds }),
    },
  );
}

/** Keeps a Worker's request alive until `work` ends, even after the client has gone (no-op on Node). */
function keepAlive(c: Context, work: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    /* Node: no execution context; the promise runs anyway */
  }
}

/** @example const metered = await meter(c, { tenant, model, backend, reservedTokens }); … metered.settle(outcome) */
export function createMeter({ limiter, tenants, log }: MeterOptions) {
  return async function meter(c: Context, o: AdmitOptions): Promise<MeteredRequest> {
    const started = Date.now();
    const { tenant } = o;
    const admission = await limiter.admit(tenant, o.reservedTokens);
    let headers = headerRecord(admission.headers);
    if (!admission.ok) throw refusalError(admission.refusal, headers);
    const { leaseId } = admission;
    const requestId = c.get('requestId');
    let ended = false;
    let finish!: (work: Promise<unknown>) => void;
    keepAlive(c, new Promise<unknown>((resolve) => (finish = resolve)));

    const end = (usedTokens: number, record: Outcome | null) => {
      ended = true;
      const work = Promise.all([
        limiter.release(tenant, leaseId, usedTokens),
        record &&
          tenants.recordUsage({
            tenantId: tenant.id,
            keyId: c.get('keyId'),
            requestId,
            model: o.model,
            backend: o.backend(),
            promptTokens: record.promptTokens,
            completionTokens: record.completionTokens,
            status: record.status,
            durationMs: Date.now() - started,
            at: Date.now(),
          }),
      ]).catch((e: unknown) => log?.(`metering failed: ${(e as Error).name}`));
      finish(work);
    };

    return {
      get headers() {
        return headers;
      },
      async reserve(reservedTokens: number) {
        const reservation = await limiter.reserve(tenant, leaseId, reservedTokens);
        headers = headerRecord(reservation.headers);
        if (reservation.ok) return;
        if (!ended) end(0, null);
        throw refusalError(reservation.refusal, headers);
      },
      cancel() {
        if (!ended) end(0, null);
      },
      settle(outcome: Outcome) {
        if (ended) return;
        end(outcome.promptTokens + outcome.completionTokens, outcome);
        const client = c.get('clientRequestId');
        log?.(
          `${c.req.path} request=${requestId}${client ? ` client_request=${client}` : ''} tenant=${tenant.id} model=${o.model} status=${outcome.status} prompt=${outcome.promptTokens} completion=${outcome.completionTokens}`,
        );
      },
    };
  };
}

export type Meter = ReturnType<typeof createMeter>;
