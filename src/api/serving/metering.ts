/**
 * Limits and metering around one generation: admission against the tenant's limits before any expensive work
 * (429 with rate headers when refused), a second reservation once the prompt is counted, then exactly one
 * settlement when the work ends — the limiter's lease released with the tokens really used, one usage record,
 * one log line. On Workers the settlement is registered with waitUntil before admission, so a client that hangs up
 * cannot cancel it (no stuck concurrency slot, no lost usage record), and it runs after the response, never on
 * its path. With a keyed limiter, a deferred key is checked by the admission call itself (one round trip), the
 * second reservation is skipped when it cannot change anything, and the release carries the usage record.
 */
import type { Context } from 'hono';
import { ApiError } from '../errors.ts';
import { authError } from '../auth.ts';
import { nextTask } from '../../model/next-task.ts';
import type {
  Admission,
  Limiter,
  RateHeaders,
  Refusal,
  Tenant,
  TenantStore,
  UsageRecord,
} from '../tenancy.ts';

/**
 * The tenant's record changed since the copy this request was checked against: nothing was admitted; the caller
 * checks the request again against `tenant` (now the context's tenant) and retries.
 */
export class StaleTenantError extends Error {
  override name = 'StaleTenantError';
  constructor(readonly tenant: Tenant) {
    super('tenant record changed during the request');
  }
}

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

export const headerRecord = (headers: RateHeaders) =>
  Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;

export function refusalError(refusal: Refusal, headers: Record<string, string>): ApiError {
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
    // Registered before the admission call: a Worker request cancelled while that call is in flight (the client
    // hung up) still runs on to the settlement below, so a lease the object granted is never orphaned.
    let finish!: (work: Promise<unknown>) => void;
    keepAlive(c, new Promise<unknown>((resolve) => (finish = resolve)));
    let admission: Admission;
    try {
      admission = await admitRequest(c, limiter, tenant, o.reservedTokens);
    } catch (e) {
      finish(Promise.resolve());
      throw e;
    }
    let headers = headerRecord(admission.headers);
    if (!admission.ok) {
      finish(Promise.resolve());
      throw refusalError(admission.refusal, headers);
    }
    const { leaseId } = admission;
    let reserved = Math.max(0, Math.ceil(o.reservedTokens));
    // Without token limits a larger reservation changes nothing the limiter checks.
    const tokenLimited = tenant.tpm !== null || tenant.budgetTokens !== null;
    const requestId = c.get('requestId');
    let ended = false;

    const end = (usedTokens: number, record: Outcome | null) => {
      ended = true;
      const usage: UsageRecord | null = record && {
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
      };
      // One call when the limiter records usage itself (the Worker's tenant object writes it to D1). A remote
      // release starts on the next timer tick, once the answer is in the runtime's hands (see releaseAfterResponse).
      const release = (): Promise<unknown> =>
        limiter.recordsUsage
          ? limiter.release(tenant, leaseId, usedTokens, usage ?? undefined)
          : Promise.all([
              limiter.release(tenant, leaseId, usedTokens),
              usage && tenants.recordUsage(usage),
            ]);
      const work = (limiter.releaseAfterResponse ? nextTask().then(release) : release()).catch(
        (e: unknown) => log?.(`metering failed: ${(e as Error).name}`),
      );
      finish(work);
    };

    return {
      get headers() {
        return headers;
      },
      async reserve(reservedTokens: number) {
        // Exact to skip: the limiter would take nothing more and refuse nothing admission did not.
        if (Math.ceil(reservedTokens) <= reserved || !tokenLimited) return;
        const reservation = await limiter.reserve(tenant, leaseId, reservedTokens);
        if (reservation.ok) reserved = Math.ceil(reservedTokens);
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

/**
 * Admission, with the key checked in the same call when the auth middleware left it to this one (see
 * TenantStore.deferAuthentication): a failed key throws its 401, a changed tenant record StaleTenantError.
 */
async function admitRequest(
  c: Context,
  limiter: Limiter,
  tenant: Tenant,
  reservedTokens: number,
): Promise<Admission> {
  const pending = c.get('pendingAuth');
  if (!pending || pending.settled || !limiter.admitWithKey)
    return limiter.admit(tenant, reservedTokens);
  const answer = await limiter.admitWithKey({ ...pending.auth, tenant }, reservedTokens);
  if (!answer.ok && 'auth' in answer) {
    pending.settled = true;
    throw authError(answer.auth);
  }
  if (!answer.ok && 'staleTenant' in answer) {
    c.set('tenant', answer.staleTenant);
    throw new StaleTenantError(answer.staleTenant);
  }
  pending.settled = true;
  if (answer.ok && answer.keyId) c.set('keyId', answer.keyId);
  return answer as Admission;
}

export type Meter = ReturnType<typeof createMeter>;
