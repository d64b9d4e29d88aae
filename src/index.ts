/**
 * The Cloudflare Workers entry: wires the in-process WASM engine (onnxruntime-web, model read from R2 or S3)
 * into the Worker app. Nothing runs at global scope: the app and engine are built on the first request (env is
 * only available then) and the model loads lazily inside a handler.
 */
/* eslint-disable no-restricted-imports -- the Workers entry is the one src/ file that wires a concrete backend (style.md, "Dependency direction") */
import type { ExecutionContext } from '@cloudflare/workers-types';
import type { Hono } from 'hono';
import { workerdOrt } from '../backends/wasm/ort-workerd.ts';
import { WasmEngine } from '../backends/wasm/wasm-engine.ts';
/* eslint-enable no-restricted-imports */
import { ApiError, errorResponse } from './api/errors.ts';
import { loadPackage } from './model/loader.ts';
import { createWorkerApp, ModelSourceError, storeFromEnv, type WorkerEnv } from './worker/index.ts';

let app: Hono | undefined;

function buildApp(env: WorkerEnv): Hono {
  const store = storeFromEnv(env);
  const engine = new WasmEngine({
    name: env.EDGE_MODEL || 'edge',
    store,
    // The engine keeps the session, not the bytes: no loader memo.
    load: (s) => loadPackage(s, { memo: false }),
    ort: workerdOrt,
  });
  return createWorkerApp({ engine });
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Response | Promise<Response> {
    try {
      app ??= buildApp(env);
    } catch (e: unknown) {
      if (!(e instanceof ModelSourceError)) throw e;
      return errorResponse(new ApiError(500, 'server_error', `worker misconfigured: ${e.message}`, { code: 'misconfigured' }));
    }
    return app.fetch(request, env, ctx);
  },
};
