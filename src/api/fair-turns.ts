/**
 * Turns at an in-process model, shared between tenants instead of between requests. A forward holds the isolate
 * (or Node's event loop) until it ends, so concurrent generations take turns, each waiting a macrotask before its
 * forward so that other work (parsing, admissions, health) runs in between. Turns per request would let a tenant
 * with four requests in flight get four forwards for every one of a tenant with one.
 *
 * The next turn goes to the waiting tenant that has used the model least lately: each turn charges its tenant the
 * tokens its forward processes, and that usage halves every USAGE_HALF_LIFE_MS. A tenant making an occasional
 * small request therefore goes ahead of one keeping the model busy (it waits for at most the forward running
 * now), while tenants that all stay busy converge on equal shares: whoever is served grows its usage until it is
 * no longer the least. Ties go round-robin (the tenant just served goes behind the others), and a tenant's own
 * requests share its turns in arrival order.
 *
 * Every waiter wakes itself, with a timer of its own request: workerd does not let one request's code resolve a
 * promise another request is waiting on, so no waiter is ever woken by another. A waiter whose request was
 * cancelled stops polling; once it is first in line and has missed many polls of the others, it is dropped, so
 * a dead request never blocks the model.
 */

import { nextTask as macrotask } from '../model/next-task.ts';

/** Who shares turns: a tenant id ('' for requests without a tenant). */
export type ShareKey = string;

/** How fast past use is forgotten: a tenant's charged tokens count half after this long. */
export const USAGE_HALF_LIFE_MS = 5000;

/** Usage is forgotten below this many tokens (its entry removed, so idle tenants cost no memory). */
const FORGOTTEN_BELOW = 0.5;

export interface TakeOptions {
  /** What the turn costs its tenant: the tokens its forward processes (default 1). */
  cost?: number;
  /** Leaves the line when aborted (the take rejects with the signal's reason). */
  signal?: AbortSignal;
  /** How this waiter waits for its next poll: a timer of its own request (default setTimeout 0). */
  nextTask?: () => Promise<void>;
}

/** A tenant's decayed usage: `tokens` as of `at` (ms). */
interface Usage {
  tokens: number;
  at: number;
}

interface Ticket {
  share: ShareKey;
  /** The line's poll count when this waiter last polled. */
  lastPoll: number;
  /** Taken out of line as abandoned: a waiter that polls again after all goes back in, at the end. */
  dropped: boolean;
}

export class FairTurns {
  /** Waiters per share key, in the order the keys take their turns (Map order: next first). */
  private readonly lines = new Map<ShareKey, Ticket[]>();
  private readonly usage = new Map<ShareKey, Usage>();
  private polls = 0;
  private charges = 0;

  /** `now` is the clock usage decays by (injectable for tests). */
  constructor(private readonly now: () => number = Date.now) {}

  /** Resolves when it is this waiter's turn: the caller runs one forward at once. */
  async take(
    share: ShareKey,
    { signal, nextTask = macrotask, cost = 1 }: TakeOptions = {},
  ): Promise<void> {
    const ticket: Ticket = { share, lastPoll: this.polls, dropped: false };
    this.join(ticket);
    try {
      for (;;) {
        await nextTask();
        signal?.throwIfAborted();
        ticket.lastPoll = ++this.polls;
        if (ticket.dropped) this.join(ticket);
        this.dropAbandonedHead();
        if (this.head() === ticket) {
          this.leave(ticket, true);
          this.charge(share, cost);
          return;
        }
      }
    } catch (e: unknown) {
      this.leave(ticket, false);
      throw e;
    }
  }

  /** Waiters in line (for tests and metrics). */
  get queued(): number {
    let n = 0;
    for (const line of this.lines.values()) n += line.length;
    return n;
  }

  private join(ticket: Ticket): void {
    ticket.dropped = false;
    const line = this.lines.get(ticket.share);
    if (line) line.push(ticket);
    else this.lines.set(ticket.share, [ticket]);
  }

  /** Decayed tokens `share` has used as of `now`. */
  usedBy(share: ShareKey, now = this.now()): number {
    const u = this.usage.get(share);
    return u ? u.tokens * 2 ** (-(now - u.at) / USAGE_HALF_LIFE_MS) : 0;
  }

  /** The first waiter of the waiting tenant with the least usage (the earliest in line on a tie). */
  private head(): Ticket | undefined {
    const now = this.now();
    let best: Ticket[] | undefined;
    let least = Infinity;
    for (const [share, line] of this.lines) {
      const used = this.usedBy(share, now);
      if (used < least) [best, least] = [line, used];
    }
    return best?.[0];
  }

  private charge(share: ShareKey, cost: number): void {
    const now = this.now();
    this.usage.set(share, { tokens: this.usedBy(share, now) + cost, at: now });
    // Forget tenants whose usage has decayed away, now and then (amortised over the charges).
    if (++this.charges % 64 === 0 && this.usage.size > 64)
      for (const [key] of this.usage)
        if (this.usedBy(key, now) < FORGOTTEN_BELOW && !this.lines.has(key)) this.usage.delete(key);
  }

  /** The first waiter missed more polls than a live one can (every live waiter polls once per round): gone. */
  private dropAbandonedHead(): void {
    for (let head = this.head(); head; head = this.head()) {
      if (this.polls - head.lastPoll <= 2 * this.queued + 8) return;
      this.leave(head, false);
      head.dropped = true;
    }
  }

  /** Takes `ticket` out of line; after a turn its key goes to the back, behind every other key waiting. */
  private leave(ticket: Ticket, turnTaken: boolean): void {
    const line = this.lines.get(ticket.share);
    if (!line) return;
    const at = line.indexOf(ticket);
    if (at < 0) return;
    line.splice(at, 1);
    if (line.length === 0) this.lines.delete(ticket.share);
    else if (turnTaken) {
      this.lines.delete(ticket.share);
      this.lines.set(ticket.share, line);
    }
  }
}
