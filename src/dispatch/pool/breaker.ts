/**
 * A circuit breaker per pool member: closed → open after `failureThreshold` consecutive failures → half-open
 * once `coolDownMs` has passed (one trial request at a time) → closed on the trial's success, open again on
 * its failure. The clock is injected so tests can step it.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 3. */
  failureThreshold?: number;
  /** How long it stays open before a trial request. Default 10 000 ms. */
  coolDownMs?: number;
  /** Default Date.now. */
  now?: () => number;
}

/** One request's claim on the breaker; report exactly one outcome (later calls are ignored). */
export interface BreakerTicket {
  success(): void;
  failure(): void;
  /** Neither: the request was abandoned (client gone) or the member said "busy" (503 + Retry-After). */
  release(): void;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | null = null;
  private trialSince: number | null = null;
  private readonly failureThreshold: number;
  private readonly coolDownMs: number;
  private readonly now: () => number;

  constructor({ failureThreshold = 3, coolDownMs = 10_000, now = Date.now }: BreakerOptions = {}) {
    if (!Number.isInteger(failureThreshold) || failureThreshold < 1)
      throw new RangeError(`failureThreshold must be a positive integer, got ${failureThreshold}`);
    if (!(coolDownMs >= 0)) throw new RangeError(`coolDownMs must be >= 0, got ${coolDownMs}`);
    this.failureThreshold = failureThreshold;
    this.coolDownMs = coolDownMs;
    this.now = now;
  }

  get state(): BreakerState {
    if (this.openedAt === null) return 'closed';
    return this.now() - this.openedAt >= this.coolDownMs ? 'half-open' : 'open';
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Whether a request may go now: closed, or half-open with no trial in flight (a trial is presumed lost after another cool-down). */
  allows(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    return this.trialSince === null || this.now() - this.trialSince >= this.coolDownMs;
  }

  /** When allows() next turns true (now when it already is). */
  readyAt(): number {
    if (this.allows()) return this.now();
    if (this.state === 'open') return this.openedAt! + this.coolDownMs;
    return this.trialSince! + this.coolDownMs;
  }

  /** Claims a request slot; call only when allows(). */
  acquire(): BreakerTicket {
    const trial = this.state === 'half-open';
    if (trial) this.trialSince = this.now();
    let settled = false;
    const settle = (fn: () => void) => () => {
      if (!settled) {
        settled = true;
        fn();
      }
    };
    return {
      success: settle(() => this.recordSuccess()),
      failure: settle(() => this.recordFailure(trial)),
      release: settle(() => {
        if (trial) this.trialSince = null;
      }),
    };
  }

  /** A success: closes the breaker and clears the failure count. */
  recordSuccess(): void {
    this.failures = 0;
    this.openedAt = null;
    this.trialSince = null;
  }

  recordFailure(trial = this.state === 'half-open'): void {
    this.failures++;
    if (trial || this.failures >= this.failureThreshold) {
      this.openedAt = this.now();
      this.trialSince = null;
    }
  }
}
