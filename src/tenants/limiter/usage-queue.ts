/**
 * Usage records a tenant's Durable Object owes D1: appended with the lease release (each persisted under its own
 * storage key in the same write as the limiter state, so none is lost if the object is evicted), written to D1 in
 * batches off the response path (the object's alarm coalesces the releases of a second into one batch), and
 * flushed on demand before a usage query reads D1. Inserts are idempotent per (tenant, request id), so a batch
 * retried after a partial failure never counts a request twice.
 */
import type { UsageRecord } from '../../api/tenancy.ts';

export type UsageWriter = (records: UsageRecord[]) => Promise<void>;

export class UsageQueue {
  private flushing: Promise<void> | null = null;

  constructor(
    /** The pending records, oldest first (mutated in place). */
    readonly pending: UsageRecord[],
    private readonly write: UsageWriter,
    /** Drops the persisted copies of records now in D1. */
    private readonly forget: (records: UsageRecord[]) => void,
  ) {}

  get size(): number {
    return this.pending.length;
  }

  push(record: UsageRecord): void {
    this.pending.push(record);
  }

  /** Writes everything pending (and whatever arrives meanwhile) to D1; rejects if a write fails. */
  async flush(): Promise<void> {
    while (this.pending.length > 0) {
      // One batch at a time: records pushed during a write go in the next batch.
      this.flushing ??= this.writeBatch().finally(() => (this.flushing = null));
      await this.flushing;
    }
  }

  private async writeBatch(): Promise<void> {
    const batch = this.pending.slice();
    await this.write(batch);
    this.pending.splice(0, batch.length);
    this.forget(batch);
  }
}
