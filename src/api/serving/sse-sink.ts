/**
 * The write side of one SSE response, with backpressure: every event is awaited, so generation pauses while the
 * client is not reading and at most one event waits in memory (plus what the runtime's socket buffers hold). A
 * client that accepts nothing for `stallTimeoutMs` is treated as gone: the stream is aborted, which ends the
 * generation and frees its slot. Keep-alive comments are sent only while nothing else is being written.
 */
import type { SSEStreamingApi } from 'hono/streaming';
import { ClientGoneError } from '../api-error.ts';

export interface SseSinkOptions {
  /** Interval of `: keep-alive` comments while no event is sent. */
  keepAliveMs: number;
  /** How long one write may wait for the client before the stream is ended as gone. */
  stallTimeoutMs: number;
  /** Called once when the client is found gone (abort the generation). */
  onGone: () => void;
}

export class SseSink {
  private writing = false;
  private lastWrite = Date.now();
  private gone = false;
  private readonly keepAlive: ReturnType<typeof setInterval>;

  constructor(
    private readonly sse: SSEStreamingApi,
    private readonly o: SseSinkOptions,
  ) {
    sse.onAbort(() => this.markGone());
    this.keepAlive = setInterval(() => {
      if (this.writing || this.gone || Date.now() - this.lastWrite < o.keepAliveMs / 2) return;
      void this.write(': keep-alive\n\n').catch(() => {});
    }, o.keepAliveMs);
  }

  /** Sends one event (`data: …`, optionally named); throws ClientGoneError once the client is gone. */
  event(data: string, event?: string): Promise<void> {
    const lines = data
      .split(/\r\n|\r|\n/)
      .map((line) => `data: ${line}`)
      .join('\n');
    return this.write(`${event ? `event: ${event}\n` : ''}${lines}\n\n`);
  }

  /** Stops the keep-alives (the stream itself is closed by the helper that opened it). */
  close(): void {
    clearInterval(this.keepAlive);
  }

  get isGone(): boolean {
    return this.gone || this.sse.aborted;
  }

  private async write(text: string): Promise<void> {
    if (this.isGone) throw new ClientGoneError('the client is gone');
    this.writing = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<'stalled'>((resolve) => {
      timer = setTimeout(() => resolve('stalled'), this.o.stallTimeoutMs);
    });
    try {
      const outcome = await Promise.race([this.sse.write(text).then(() => 'written'), stalled]);
      if (outcome === 'stalled') {
        this.markGone();
        this.sse.abort(); // drops the queued bytes: a reader that never reads holds no more than this
      }
      if (this.isGone) throw new ClientGoneError('the client is gone');
      this.lastWrite = Date.now();
    } finally {
      clearTimeout(timer);
      this.writing = false;
    }
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.o.onGone();
  }
}
