/**
 * Admission control: at most `maxRunning` sequences in the batch and `maxWaiting` queued behind them (FIFO);
 * anything beyond is refused at once, so the caller can answer 503 + Retry-After instead of queueing forever.
 */

export interface AdmissionOptions {
  /** Sequences running at once (the batch). */
  maxRunning: number;
  /** Requests waiting for a slot. */
  maxWaiting: number;
}

/** One admitted request. `ready` resolves when it may run (at once, or when a slot frees up). */
export interface Ticket {
  readonly ready: Promise<void>;
  /** Frees the slot (or leaves the queue). Idempotent. */
  release(): void;
}

export class AdmissionQueue {
  private running = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly maxRunning: number;
  private readonly maxWaiting: number;

  constructor({ maxRunning, maxWaiting }: AdmissionOptions) {
    if (!(Number.isInteger(maxRunning) && maxRunning >= 1))
      throw new Error(`maxRunning must be an integer >= 1, got ${maxRunning}`);
    if (!(Number.isInteger(maxWaiting) && maxWaiting >= 0))
      throw new Error(`maxWaiting must be an integer >= 0, got ${maxWaiting}`);
    this.maxRunning = maxRunning;
    this.maxWaiting = maxWaiting;
  }

  get numRunning(): number {
    return this.running;
  }

  get numWaiting(): number {
    return this.waiters.length;
  }

  /** Takes a slot or a queue place; null when both are full. */
  tryAdmit(): Ticket | null {
    let state: 'waiting' | 'running' | 'released' = 'waiting';
    let resolve!: () => void;
    const ready = new Promise<void>((r) => (resolve = r));
    const grant = () => {
      state = 'running';
      resolve();
    };
    if (this.running < this.maxRunning) {
      this.running++;
      grant();
    } else if (this.waiters.length < this.maxWaiting) {
      this.waiters.push(grant);
    } else {
      return null;
    }
    return {
      ready,
      release: () => {
        if (state === 'waiting') this.waiters.splice(this.waiters.indexOf(grant), 1);
        else if (state === 'running') this.free();
        state = 'released';
      },
    };
  }

  private free(): void {
    const next = this.waiters.shift();
    if (next)
      next(); // the slot passes straight to the next waiter
    else this.running--;
  }
}
