/**
 * The Cloudflare Workers entry: the OpenAI-compatible API over the in-process WASM engine (onnxruntime-web,
 * model read from R2 or S3), tenants and keys in D1, exact limits — and the check of keys that name their
 * tenant — in one Durable Object per tenant, and the admin API. Models routed to GPU pools (POOL_CONFIG, src/dispatch) are served through the fetch-only pool
 * client (src/dispatch/pool/index.ts). Nothing runs at global scope: the app is built on the first request (env
 * exists only then) and the model loads lazily inside a handler.
 */
import { workerdOrt } from '../backends/wasm/ort-workerd.ts';
import { WasmEngine } from '../backends/wasm/wasm-engine.ts';
import { workerdXGrammar } from '../backends/wasm/xgrammar-workerd.ts';
import { GrammarService } from './grammar/index.ts';
import { poolRegistry } from './dispatch/pool-registry.ts';
import type {
  ExecutionContext,
  D1Database,
  DurableObjectNamespace,
} from '@cloudflare/workers-types';
import { ApiError, errorResponse } from './api/errors.ts';
import { createApiApp } from './api/app.ts';
import { parseCorsOrigins } from './api/cors.ts';
import { loadPackage } from './model/loader.ts';
import { createAdminApp, createEdgeTenancy } from './tenants/index.ts';
import {
  ModelSourceError,
  documentGenerateRoute,
  generateHandler,
  packageSourceFromEnv,
  storeFromEnv,
  type WorkerEnv,
} from './worker/index.ts';
import {
  PrefixCacheConfigError,
  WORKER_PREFIX_CACHE_MB,
  prefixCacheFromEnv,
} from './worker/prefix-cache-env.ts';
import { bearerAuth } from './api/bearer-auth.ts';
import { bodyLimit } from './api/body-limit.ts';
import { DispatchConfigError } from './dispatch/index.ts';
import { workerDocsAssets } from './worker/docs-assets.ts';
import { documentAdminApi } from './tenants/admin/openapi.ts';

export { TenantLimiter } from './worker/tenant-limiter.ts';

export interface Env extends WorkerEnv {
  DB: D1Database;
  TENANT_LIMITER: DurableObjectNamespace;
  /** Secret: `Authorization: Bearer <ADMIN_TOKEN>` for /admin/* and /internal/*. */
  ADMIN_TOKEN?: string;
  /** "1" logs one line per API request (tenant id, model, status, token counts; never keys). */
  LOG_REQUESTS?: string;
  /** Routes to GPU pools (JSON string or a wrangler.toml table; format in src/dispatch/config.ts). Unset: edge only. */
  POOL_CONFIG?: string | object;
  /** Secret: the bearer token of the GPU pools' internal API (a pool may name another secret). */
  GPU_POOL_SECRET?: string;
  /** Origins browsers may call /v1/* from: unset or "*" any, "none" off, else comma-separated. */
  CORS_ORIGINS?: string;
  /** MiB of prompt K/V kept in the isolate's prefix cache (default 8; "0" turns it off). */
  PREFIX_CACHE_MB?: string;
}

let app: ReturnType<typeof buildApp> | undefined;

function buildApp(env: Env) {
  const edgeId = env.EDGE_MODEL || 'edge';
  const edgePackage = packageSourceFromEnv(env);
  const edge = new WasmEngine({
    id: edgeId,
    store: storeFromEnv(env),
    load: (s) => loadPackage(s, {}),
    ort: workerdOrt,
    prefixCache: prefixCacheFromEnv(env.PREFIX_CACHE_MB, WORKER_PREFIX_CACHE_MB),
  });
  // Keys that name their tenant are checked and admitted by the tenant's Durable Object in one call; D1 stays
  // the store of record (admin API, usage queries, legacy keys).
  const { store: tenants, limiter } = createEdgeTenancy({
    db: env.DB as never,
    namespace: env.TENANT_LIMITER as never,
  });
  const engines = poolRegistry({
    poolConfig: env.POOL_CONFIG,
    secrets: env as unknown as Record<string, unknown>,
    edge,
    onDegrade: (model) => console.log(`degraded ${model} to the edge: pool down`),
  });
  const api = createApiApp({
    engines,
    tenants,
    limiter,
    corsOrigins: parseCorsOrigins(env.CORS_ORIGINS),
    // Structured output; xgrammar's wasm is instantiated by the first request that asks for it.
    grammar: new GrammarService({ runtime: workerdXGrammar }),
    docsAssets: workerDocsAssets,
    // The playground's "Run in my browser" downloads the edge model's package (docs/playground.md).
    packages: (id) => (id === edgeId ? edgePackage : undefined),
    // One line per request only when asked (LOG_REQUESTS=1); failures are always logged.
    log: (line) => {
      if (env.LOG_REQUESTS === '1' || line.startsWith('error') || line.startsWith('metering'))
        console.log(line);
    },
    // Public: the state and timings, never the package's location or a load error (those are the operator's,
    // at GET /internal/health and in the log).
    health: () => {
      const { source: _source, error: _error, ...status } = edge.loadStatus();
      return {
        status: status.state === 'ready' ? 'ok' : status.state,
        loaded: status.state === 'ready',
        ...status,
        ...('pools' in engines ? { pools: engines.pools() } : {}),
      };
    },
  });
  api.route('/', createAdminApp({ store: tenants, adminToken: env.ADMIN_TOKEN }));
  documentAdminApi(api.openAPIRegistry);
  api.use(
    '/internal/*',
    bearerAuth({ token: env.ADMIN_TOKEN, name: 'admin token', setting: 'ADMIN_TOKEN' }),
    bodyLimit({ maxBytes: 1 << 20 }),
  );
  api.post('/internal/generate', generateHandler(edge));
  documentGenerateRoute(api.openAPIRegistry);
  // The operator's health: loads the edge model if it is not loaded (or retries a failed load) and reports it
  // with its source and any load error; 200 only when it is ready.
  api.get('/internal/health', async (c) => {
    await edge.model().catch(() => {});
    const status = edge.loadStatus();
    return c.json(
      { loaded: status.state === 'ready', ...status },
      status.state === 'ready' ? 200 : 503,
    );
  });
  return api;
}

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    try {
      app ??= buildApp(env);
    } catch (e: unknown) {
      if (
        !(e instanceof ModelSourceError) &&
        !(e instanceof DispatchConfigError) &&
        !(e instanceof PrefixCacheConfigError)
      )
        throw e;
      return errorResponse(
        new ApiError(500, 'server_error', `worker misconfigured: ${e.message}`, {
          code: 'misconfigured',
        }),
      );
    }
    return app.fetch(request, env, ctx);
  },
};
