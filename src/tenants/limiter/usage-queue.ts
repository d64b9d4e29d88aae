/**
 * Usage records a tenant's Durable Object owes D1: appended with the lease release (persisted in the same storage
 * write, so none is lost if the object is evicted), written to D1 in batches off the response path, and flushed
 * on demand before a usage query reads D1. Inserts are idempotent per (tenant, request id), so a batch retried
 * after a partial failure never counts a request twice.
 */
import type { UsageRecord } from '../../api/tenancy.ts';

export type UsageWriter = (records: UsageRecord[]) => Promise<void>;

export class UsageQueue {
  private flushing: Promise<void> | null = null;

  constructor(
    /** The pending records (the object persists this array; mutated in place). */
    readonly pending: UsageRecord[],
    private readonly write: UsageWriter,
    /** Persists what is still pending after a batch landed. */
    private readonly persist: () => Promise<void>,
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
    await this.persist();
  }
}
