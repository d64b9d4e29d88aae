/**
 * One generate request after validation: waits for a batch slot, runs the sequence in the worker, frames its
 * events as SSE PoolEvents, records the request's metrics, and leaves the batch when the client goes away.
 */
import type { DecodeEvent } from '../../../src/decode/index.ts';
import type { Ticket } from '../admission-queue.ts';
import { InferenceError, type InferenceEngine } from '../engine.ts';
import type { PoolMetrics } from '../metrics/pool-metrics.ts';
import type { PoolEvent } from '../../../src/dispatch/pool/protocol.ts';
import type { ParsedGenerate } from './request.ts';

export interface GenerationStreamOptions {
  engine: InferenceEngine;
  metrics: PoolMetrics;
  request: ParsedGenerate;
  /** The admission ticket; released when the stream ends. */
  ticket: Ticket;
  /** The HTTP request's signal: fires when the client disconnects. */
  signal: AbortSignal;
  /** performance.now() at arrival: TTFT and e2e latency count from here. */
  arrivedAt: number;
}

const encoder = new TextEncoder();
const frame = (ev: PoolEvent) => encoder.encode(`data: ${JSON.stringify(ev)}\n\n`);

function abortedPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** The text/event-stream body: block (and, with `denoise`, step) events, then one done or error event. */
export function generationStream({
  engine,
  metrics,
  request,
  ticket,
  signal,
  arrivedAt,
}: GenerationStreamOptions): ReadableStream<Uint8Array> {
  const cancel = new AbortController();
  const stop = () => cancel.abort();
  signal.addEventListener('abort', stop, { once: true });
  const labels = metrics.labels;
  const seconds = (from: number) => (performance.now() - from) / 1000;

  async function run(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    const send = (ev: PoolEvent) => {
      if (!cancel.signal.aborted) controller.enqueue(frame(ev));
    };
    let emitted = 0;
    let lastBlockAt: number | null = null;
    let finished = false;
    try {
      await Promise.race([ticket.ready, abortedPromise(cancel.signal)]);
      if (cancel.signal.aborted) return;
      metrics.queueTime.observe(labels, seconds(arrivedAt));
      metrics.promptTokens.inc(labels, request.promptIds.length);
      const events: AsyncIterable<DecodeEvent> = engine.generate(
        request.promptIds,
        request.options,
        cancel.signal,
      );
      for await (const ev of events) {
        if (ev.type === 'step') {
          metrics.onStep(ev.committed.length);
          if (request.denoise) send(ev);
        } else if (ev.type === 'block') {
          if (ev.tokens.length > 0) {
            const now = performance.now();
            if (lastBlockAt === null) metrics.ttft.observe(labels, (now - arrivedAt) / 1000);
            else metrics.itl.observe(labels, (now - lastBlockAt) / 1000);
            lastBlockAt = now;
            emitted += ev.tokens.length;
          }
          send(ev);
        } else {
          finished = true;
          emitted = ev.result.tokens.length;
          metrics.success.inc({ ...labels, finished_reason: ev.result.finishReason });
          send(ev);
        }
      }
      if (!finished && !cancel.signal.aborted)
        throw new InferenceError({
          message: 'the sequence ended without a result',
          type: 'server_error',
          code: 'inference_failed',
        });
    } catch (e: unknown) {
      const wire =
        e instanceof InferenceError
          ? e.wire
          : { message: 'internal error', type: 'server_error', code: 'internal_error' };
      send({ type: 'error', error: { param: null, ...wire } });
    } finally {
      ticket.release();
      signal.removeEventListener('abort', stop);
      metrics.generationTokens.inc(labels, emitted);
      if (cancel.signal.aborted) metrics.aborted.inc();
      else metrics.e2e.observe(labels, seconds(arrivedAt));
      try {
        controller.close();
      } catch {
        // Already cancelled by the client.
      }
    }
  }

  return new ReadableStream<Uint8Array>({
    start(controller) {
      void run(controller);
    },
    cancel() {
      stop();
    },
  });
}
