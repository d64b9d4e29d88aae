/**
 * TenantLimiter: the Durable Object holding one tenant's exact limits (named by tenant id). Single-threaded,
 * so admissions are serialised; the state is written to DO storage on every change and survives eviction.
 * Spoken to over fetch (see do-limiter.ts), so it needs no `cloudflare:workers` import.
 */
import type { DurableObjectState } from '@cloudflare/workers-types';
import type { Admission, Reservation } from '../../api/tenancy.ts';
import {
  admit,
  emptyLimiterState,
  release,
  reserve,
  type LimiterLimits,
  type LimiterState,
} from './buckets.ts';

const STATE_KEY = 'limiter-state';

export interface AdmitMessage {
  limits: LimiterLimits;
  reservedTokens: number;
  leaseTtlMs: number;
}

export interface ReserveMessage {
  limits: LimiterLimits;
  leaseId: string;
  reservedTokens: number;
}

export interface ReleaseMessage {
  limits: LimiterLimits;
  leaseId: string;
  usedTokens: number;
}

export interface ReleaseReply {
  released: boolean;
}

/** Paths of the DO's fetch protocol (the host is ignored). */
export const LIMITER_PATHS = { admit: '/admit', reserve: '/reserve', release: '/release' } as const;

export class TenantLimiter {
  private state: LimiterState = emptyLimiterState();

  constructor(
    private readonly ctx: DurableObjectState,
    _env: unknown,
  ) {
    void ctx.blockConcurrencyWhile(async () => {
      this.state = (await ctx.storage.get<LimiterState>(STATE_KEY)) ?? emptyLimiterState();
    });
  }

  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (request.method !== 'POST') return new Response('method not allowed', { status: 405 });
    const body: unknown = await request.json().catch(() => null);
    if (path === LIMITER_PATHS.admit && isAdmitMessage(body))
      return Response.json(await this.admit(body));
    if (path === LIMITER_PATHS.reserve && isReserveMessage(body))
      return Response.json(await this.reserve(body));
    if (path === LIMITER_PATHS.release && isReleaseMessage(body))
      return Response.json(await this.release(body));
    return new Response('bad limiter request', { status: 400 });
  }

  private async admit(message: AdmitMessage): Promise<Admission> {
    const admission = admit(this.state, {
      ...message,
      now: Date.now(),
      leaseId: crypto.randomUUID(),
    });
    if (admission.ok) await this.save();
    return admission;
  }

  private async reserve(message: ReserveMessage): Promise<Reservation> {
    const reservation = reserve(this.state, { ...message, now: Date.now() });
    if (reservation.ok) await this.save();
    return reservation;
  }

  private async release(message: ReleaseMessage): Promise<ReleaseReply> {
    const released = release(this.state, { ...message, now: Date.now() });
    await this.save();
    return { released };
  }

  private save(): Promise<void> {
    return this.ctx.storage.put(STATE_KEY, this.state);
  }
}

function isLimits(value: unknown): value is LimiterLimits {
  if (!value || typeof value !== 'object') return false;
  const limits = value as Record<string, unknown>;
  const numberOrNull = (key: string) => limits[key] === null || typeof limits[key] === 'number';
  return (
    ['rpm', 'tpm', 'maxConcurrent', 'budgetTokens'].every(numberOrNull) &&
    (limits.budgetPeriod === null ||
      limits.budgetPeriod === 'day' ||
      limits.budgetPeriod === 'month')
  );
}

function isAdmitMessage(value: unknown): value is AdmitMessage {
  const message = value as Partial<AdmitMessage> | null;
  return (
    !!message &&
    isLimits(message.limits) &&
    typeof message.reservedTokens === 'number' &&
    typeof message.leaseTtlMs === 'number' &&
    message.leaseTtlMs > 0
  );
}

function isReserveMessage(value: unknown): value is ReserveMessage {
  const message = value as Partial<ReserveMessage> | null;
  return (
    !!message &&
    isLimits(message.limits) &&
    typeof message.leaseId === 'string' &&
    typeof message.reservedTokens === 'number'
  );
}

function isReleaseMessage(value: unknown): value is ReleaseMessage {
  const message = value as Partial<ReleaseMessage> | null;
  return (
    !!message &&
    isLimits(message.limits) &&
    typeof message.leaseId === 'string' &&
    typeof message.usedTokens === 'number'
  );
}
