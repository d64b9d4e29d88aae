/**
 * usage.jsonl, the Node server's append-only usage log. Each record is written with one synchronous write(2) as
 * the request settles, which is before its final byte is sent: once a client has its whole answer, the record is
 * in the kernel, so a crash of the process (kill -9 included) loses none of them. Against a power cut or a kernel
 * crash the file is fdatasync'd at most SYNC_INTERVAL_MS after a write: that is the documented loss window.
 */
import { closeSync, fdatasync, openSync, writeSync } from 'node:fs';

/** The most time a written record waits for fdatasync (the power-loss window). */
export const SYNC_INTERVAL_MS = 100;

export class UsageLog {
  private readonly fd: number;
  private syncTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a', 0o600);
  }

  /** Appends one line; throws (synchronously) if the write fails, so the caller can keep the record pending. */
  append(line: string): void {
    if (this.closed) throw new Error(`${this.path} is closed`);
    const bytes = Buffer.from(line.endsWith('\n') ? line : `${line}\n`);
    let written = 0;
    while (written < bytes.length) written += writeSync(this.fd, bytes, written);
    this.syncTimer ??= setTimeout(() => this.sync(), SYNC_INTERVAL_MS);
    this.syncTimer.unref?.();
  }

  /** Flushes to disk now and closes the file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    closeSync(this.fd);
  }

  private sync(): void {
    this.syncTimer = null;
    if (!this.closed) fdatasync(this.fd, () => {});
  }
}
