/**
 * The write side of one SSE response, with backpressure: every event is awaited, so generation pauses while the
 * client is not reading and at most one event waits in memory (plus what the runtime's socket buffers hold). A
 * client that accepts nothing for `stallTimeoutMs` is treated as gone: the stream is aborted, which ends the
 * generation and frees its slot. Keep-alive comments are sent only while nothing else is being written.
 *
 * The stream's first EARLY_BYTES are different: the network stack takes them however slowly the client reads
 * (the socket buffers on both ends hold more), so a write still pending there after `earlyStallTimeoutMs` means
 * nothing will ever read the body. workerd leaves exactly that behind when the client hangs up before the
 * response headers are written: the body is neither read on nor cancelled and the request's signal never aborts
 * (docs/workerd.md, §5).
 */
import type { SSEStreamingApi } from 'hono/streaming';
import { ClientGoneError } from '../api-error.ts';
import { utf8Length } from '../../model/utf8-length.ts';

export interface SseSinkOptions {
  /** Interval of `: keep-alive` comments while no event is sent. */
  keepAliveMs: number;
  /** How long one write may wait for the client before the stream is ended as gone. */
  stallTimeoutMs: number;
  /**
   * How long a write may wait while fewer than EARLY_BYTES have been taken (default EARLY_STALL_TIMEOUT_MS, at
   * most `stallTimeoutMs`). Counted in two halves, the second armed only once the first has fired, so an event
   * loop blocked for a while by other work cannot end a stream whose bytes are about to be taken.
   */
  earlyStallTimeoutMs?: number;
  /** Called once when the client is found gone (abort the generation). */
  onGone: () => void;
  /**
   * The request's own signal (the runtime aborts it when the client disconnects). A write pending on a body
   * nobody reads any more is released at once instead of waiting out the stall timeout: workerd does not
   * always cancel the response stream of a client that left before reading it.
   */
  clientSignal?: AbortSignal;
}

/** Bytes any live connection takes without the client reading (under the smallest TCP send buffer, 16 KiB). */
export const EARLY_BYTES = 16 * 1024;
/** A live connection takes its first bytes within milliseconds; this leaves room for a busy event loop. */
export const EARLY_STALL_TIMEOUT_MS = 2000;

/** Calls `done` after `ms`, in two halves (the second armed once the first has fired); returns a canceller. */
function twoStageTimer(ms: number, done: () => void): () => void {
  let timer = setTimeout(() => {
    timer = setTimeout(done, ms / 2);
  }, ms / 2);
  return () => clearTimeout(timer);
}

export class SseSink {
  private writing = false;
  /** Bytes the runtime has taken so far. */
  private taken = 0;
  private lastWrite = Date.now();
  private gone = false;
  /** Aborted when the client is found gone: releases a pending write. */
  private readonly goneSignal = new AbortController();
  private readonly keepAlive: ReturnType<typeof setInterval>;

  constructor(
    private readonly sse: SSEStreamingApi,
    private readonly o: SseSinkOptions,
  ) {
    sse.onAbort(() => this.markGone());
    if (o.clientSignal?.aborted) this.markGone();
    else o.clientSignal?.addEventListener('abort', () => this.markGone(), { once: true });
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
    let stopTimer = () => {};
    const stalled = new Promise<'stalled'>((resolve) => {
      if (this.taken >= EARLY_BYTES) {
        const timer = setTimeout(() => resolve('stalled'), this.o.stallTimeoutMs);
        stopTimer = () => clearTimeout(timer);
      } else
        stopTimer = twoStageTimer(
          Math.min(this.o.earlyStallTimeoutMs ?? EARLY_STALL_TIMEOUT_MS, this.o.stallTimeoutMs),
          () => resolve('stalled'),
        );
    });
    let onGone = () => {};
    const left = new Promise<'gone'>((resolve) => {
      onGone = () => resolve('gone');
      this.goneSignal.signal.addEventListener('abort', onGone, { once: true });
    });
    try {
      const outcome = await Promise.race([
        this.sse.write(text).then(() => 'written'),
        stalled,
        left,
      ]);
      if (outcome === 'stalled') {
        this.markGone();
        this.sse.abort(); // drops the queued bytes: a reader that never reads holds no more than this
      }
      if (this.isGone) throw new ClientGoneError('the client is gone');
      this.taken += utf8Length(text);
      this.lastWrite = Date.now();
    } finally {
      stopTimer();
      this.goneSignal.signal.removeEventListener('abort', onGone);
      this.writing = false;
    }
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.goneSignal.abort();
    this.o.onGone();
  }
}
