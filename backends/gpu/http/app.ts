/** The GPU server's routes (protocol.ts): health, metrics, and the authenticated internal generate/model API. */
import { Hono } from 'hono';
import type { AdmissionQueue } from '../admission-queue.ts';
import type { InferenceEngine } from '../engine.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../../node/metrics/prometheus.ts';
import type { PoolMetrics } from '../metrics/pool-metrics.ts';
import {
  GENERATE_PATH,
  MODEL_PATH,
  type ModelDescription,
} from '../../../src/dispatch/pool/protocol.ts';
import { poolAuth } from './auth.ts';
import { ApiError, errorResponse, renderErrors } from '../../../src/api/errors.ts';
import { unavailable } from './errors.ts';
import { generationStream } from './generation.ts';
import { parseGenerate } from './request.ts';

export type PoolStatus = 'loading' | 'ready' | 'draining' | 'failed';

/** What the routes read from the server; owned and updated by server.ts. */
export interface PoolState {
  readonly status: PoolStatus;
  /** Set once the model is loaded and warmed. */
  readonly engine: InferenceEngine | null;
  readonly model: ModelDescription | null;
  readonly admission: AdmissionQueue;
  readonly metrics: PoolMetrics;
}

export interface PoolAppOptions {
  /** The shared secret (GPU_POOL_SECRET). */
  secret: string;
  state: PoolState;
  /** Retry-After seconds for a full queue (default 1) and while loading or draining (default 5). */
  retryAfterFullS?: number;
  retryAfterUnavailableS?: number;
}

/** @example serve({ fetch: createPoolApp({ secret, state }).fetch, port: 8000 }) */
export function createPoolApp({
  secret,
  state,
  retryAfterFullS = 1,
  retryAfterUnavailableS = 5,
}: PoolAppOptions): Hono {
  const app = new Hono();

  app.onError(renderErrors({ log: (line) => console.error(`gpu-server: ${line}`) }));
  app.notFound((c) =>
    errorResponse(new ApiError(404, 'not_found_error', `no route ${c.req.method} ${c.req.path}`)),
  );

  app.get('/health', (c) => c.json({ status: state.status }, state.status === 'ready' ? 200 : 503));
  app.get(
    '/metrics',
    () =>
      new Response(state.metrics.render(), {
        headers: { 'content-type': PROMETHEUS_CONTENT_TYPE },
      }),
  );

  app.use('/internal/*', poolAuth({ secret }));

  /** The ready engine and model, or a 503 saying why not. */
  function serving(): { engine: InferenceEngine; model: ModelDescription } {
    const { status, engine, model } = state;
    if (status === 'ready' && engine && model) return { engine, model };
    const reason = status === 'draining' ? 'draining' : 'not_ready';
    state.metrics.onReject(reason);
    throw unavailable(
      status === 'draining' ? 'the server is shutting down' : `the model is not ready (${status})`,
      reason === 'draining' ? 'draining' : 'model_not_ready',
      retryAfterUnavailableS,
    );
  }

  app.get(MODEL_PATH, (c) => c.json(serving().model));

  app.post(GENERATE_PATH, async (c) => {
    const arrivedAt = performance.now();
    const { engine, model } = serving();
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ApiError(400, 'invalid_request_error', 'the body is not valid JSON', {
        code: 'invalid_json',
      });
    }
    const request = parseGenerate(body, model.id, model.info);
    const ticket = state.admission.tryAdmit();
    if (!ticket) {
      state.metrics.onReject('queue_full');
      throw unavailable('the admission queue is full', 'queue_full', retryAfterFullS);
    }
    const stream = generationStream({
      engine,
      metrics: state.metrics,
      request,
      ticket,
      signal: c.req.raw.signal,
      arrivedAt,
    });
    return new Response(stream, {
      headers: {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      },
    });
  });

  return app;
}
