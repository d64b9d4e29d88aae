/**
 * The members of one GPU pool (base URLs) and what the Worker knows about each: a circuit breaker, a "busy
 * until" from the last 503 + Retry-After, and a briefly cached GET /health. Picks members round-robin, healthy
 * ones first. State lives per isolate; every Worker isolate learns on its own.
 */
import { CircuitBreaker, type BreakerOptions, type BreakerState } from './breaker.ts';

export interface PoolMembersOptions {
  /** Base URLs, e.g. ["https://gpu-a.internal:8080"]. At least one. */
  urls: string[];
  breaker?: Omit<BreakerOptions, 'now'>;
  /** How long a /health answer is trusted. Default 5 000 ms. */
  healthTtlMs?: number;
  /** Timeout of one /health probe. Default 2 000 ms. */
  healthTimeoutMs?: number;
  /** Default Date.now. */
  now?: () => number;
  /** Default globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface Member {
  readonly url: string;
  readonly breaker: CircuitBreaker;
  /** Skip until this time (a 503 with Retry-After: alive but full, or still loading). */
  busyUntil: number;
  health: { ok: boolean; at: number } | null;
}

export interface MemberStatus {
  /** Position in the configured list (URLs are not shown: /health is public). */
  index: number;
  breaker: BreakerState;
  failures: number;
  healthy: boolean | null;
  busy: boolean;
}

export class PoolMembers {
  readonly members: Member[];
  readonly now: () => number;
  private cursor = 0;
  private readonly healthTtlMs: number;
  private readonly healthTimeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor({
    urls,
    breaker,
    healthTtlMs = 5_000,
    healthTimeoutMs = 2_000,
    now = Date.now,
    fetch: fetchFn,
  }: PoolMembersOptions) {
    if (urls.length === 0) throw new RangeError('a pool needs at least one member URL');
    this.now = now;
    this.members = urls.map((url) => ({
      url: url.replace(/\/+$/, ''),
      breaker: new CircuitBreaker({ ...breaker, now }),
      busyUntil: 0,
      health: null,
    }));
    this.healthTtlMs = healthTtlMs;
    this.healthTimeoutMs = healthTimeoutMs;
    this.fetchFn = fetchFn ?? ((input, init) => fetch(input, init));
  }

  /**
   * The next member a request may go to, not in `exclude`: breaker allows it and it is not busy. Members whose
   * last health check failed come after the rest. Null when none may go now.
   */
  pick(exclude: ReadonlySet<Member> = new Set()): Member | null {
    const now = this.now();
    const n = this.members.length;
    let fallback: Member | null = null;
    for (let i = 0; i < n; i++) {
      const m = this.members[(this.cursor + i) % n];
      if (exclude.has(m) || m.busyUntil > now || !m.breaker.allows()) continue;
      if (this.knownDown(m, now)) {
        fallback ??= m;
        continue;
      }
      this.cursor = (this.cursor + i + 1) % n;
      return m;
    }
    return fallback;
  }

  /** Earliest time some member may take a request again (its cool-down or busy period ends). */
  readyAt(): number {
    return Math.min(...this.members.map((m) => Math.max(m.busyUntil, m.breaker.readyAt())));
  }

  /**
   * Whether the pool can serve now: some member's breaker is not open and its /health (probed when older than
   * the TTL) says ready. Used to degrade tenants to the edge before a request is tokenized.
   */
  async available(): Promise<boolean> {
    const now = this.now();
    const candidates = this.members.filter((m) => m.breaker.state !== 'open');
    if (candidates.length === 0) return false;
    await Promise.all(
      candidates.map((m) =>
        m.health && now - m.health.at < this.healthTtlMs ? undefined : this.probe(m),
      ),
    );
    return candidates.some((m) => m.health?.ok === true);
  }

  /** GET /health once; 200 = ready (the server answers 503 while loading or draining). */
  async probe(m: Member): Promise<boolean> {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), this.healthTimeoutMs);
    let ok = false;
    try {
      const res = await this.fetchFn(`${m.url}/health`, { signal: ctrl.signal });
      ok = res.ok;
      await res.body?.cancel().catch(() => {});
    } catch {
      ok = false;
    } finally {
      clearTimeout(timer);
    }
    m.health = { ok, at: this.now() };
    return ok;
  }

  status(): MemberStatus[] {
    const now = this.now();
    return this.members.map((m, index) => ({
      index,
      breaker: m.breaker.state,
      failures: m.breaker.consecutiveFailures,
      healthy: m.health && now - m.health.at < this.healthTtlMs ? m.health.ok : null,
      busy: m.busyUntil > now,
    }));
  }

  private knownDown(m: Member, now: number): boolean {
    return m.health !== null && !m.health.ok && now - m.health.at < this.healthTtlMs;
  }
}
