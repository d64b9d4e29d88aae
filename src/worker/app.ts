/**
 * The Worker's Hono app: health and the internal generate route over one ModelEngine. The OpenAI-compatible
 * API mounts its routes on the returned app (`app.route('/v1', api)`); errors render as the OpenAI envelope.
 */
import { Hono } from 'hono';
import { ApiError, errorResponse, toApiError } from '../api/errors.ts';
import { ModelLoadError } from '../model/store.ts';
import type { ModelEngine } from './engine.ts';
import { generateHandler } from './generate.ts';

function logError(e: unknown): void {
  if (e instanceof ModelLoadError) console.error(`model load failed (${e.code}): ${e.message}`);
  else console.error(e);
}

export interface WorkerAppOptions {
  /** The edge model (loaded lazily, on the first request that needs it). */
  engine: ModelEngine;
  /** Where server-side failures (5xx other than ApiError) are reported. Default: console.error (one line for a failed model load). */
  onUnexpectedError?: (e: unknown) => void;
}

/**
 * GET /health → { status: 'ok', loaded, state, model, source, package?, load?, heapBytes?, heapNowBytes?, error? }
 * (never triggers a load);
 * POST /internal/generate (see generate.ts).
 *
 * @example
 * const app = createWorkerApp({ engine });
 * export default { fetch: app.fetch };
 */
export function createWorkerApp({ engine, onUnexpectedError = logError }: WorkerAppOptions): Hono {
  const app = new Hono();
  app.get('/health', (c) => {
    const status = engine.status();
    return c.json({ status: 'ok', loaded: status.state === 'ready', ...status });
  });
  app.post('/internal/generate', generateHandler(engine));
  app.notFound((c) =>
    errorResponse(
      new ApiError(
        404,
        'not_found_error',
        `no route for ${c.req.method} ${new URL(c.req.url).pathname}`,
      ),
    ),
  );
  app.onError((e) => {
    const err = toApiError(e);
    if (err.status >= 500 && !(e instanceof ApiError)) onUnexpectedError(e);
    return errorResponse(err);
  });
  return app;
}
