/**
 * The OpenAI-compatible API on Node: the same app as the Worker (src/api createApiApp, the admin API, POOL_CONFIG
 * dispatch to GPU pools) with Node parts in place of Cloudflare's: the edge model runs in-process on
 * onnxruntime-node (read from a directory or S3/R2 through the verified loader and disk cache), tenants and usage
 * live in a directory (file-tenant-store.ts), and limits are exact within this one process (memory limiter).
 * Loads the model first (a package that cannot be read or verified fails start-up), then listens. close() stops
 * accepting and lets open responses end.
 */
import { createApiApp } from '../../../src/api/app.ts';
import { parseCorsOrigins } from '../../../src/api/cors.ts';
import { runnerEngine } from '../../../src/api/runner-engine.ts';
import { packageCodec } from '../../../src/model/package-codec.ts';
import { createAdminApp, createMemoryLimiter } from '../../../src/tenants/index.ts';
import { poolRegistry } from '../../../src/dispatch/pool-registry.ts';
import { listen } from '../listen.ts';
import { nodeXGrammar } from '../xgrammar-node.ts';
import { GrammarService } from '../../../src/grammar/index.ts';
import { openModel, type OpenedModel, type Provider } from '../open-model.ts';
import type { ExecutionProvider } from '../../../src/ort/session-options.ts';
import { openFileTenantStore } from './file-tenant-store.ts';
import { NODE_PREFIX_CACHE_MB, prefixCacheFromEnv } from '../../../src/worker/prefix-cache-env.ts';
import { ApiMetrics } from './metrics.ts';
import { nodeDocsAssets } from './docs-assets.ts';
import { documentAdminApi } from '../../../src/tenants/admin/openapi.ts';
import { dirPackageSource } from './dir-package-source.ts';
import { buildPlayground } from '../playground/build.ts';
import { playgroundApp } from '../playground/serve.ts';

export interface NodeApiOptions {
  /** The edge model: a package directory or s3://bucket/prefix. */
  model: string;
  /** The id clients send as `model` (default: the manifest's name). */
  modelId?: string;
  /** Where tenants.json and usage.jsonl live. */
  dataDir: string;
  /** Bearer token of /admin/*; unset disables the admin API (403). */
  adminToken?: string;
  port?: number;
  host?: string;
  /** onnxruntime-node execution providers, in order (default ['cpu']). */
  providers?: Provider[];
  threads?: number;
  /** MiB of prompt K/V kept in the prefix cache (default NODE_PREFIX_CACHE_MB, 32; 0 turns it off). */
  prefixCacheMb?: number;
  /** CORS_ORIGINS: unset or "*" any origin, "none" off, else comma-separated origins. */
  corsOrigins?: string;
  /** POOL_CONFIG (JSON); unset = the edge model only. */
  poolConfig?: string;
  /** Where pool secrets are looked up by name (default process.env). */
  secrets?: Record<string, unknown>;
  /** One line per request (tenant, model, status, tokens; never keys). */
  logRequests?: boolean;
  /** Serve the playground page at `/` (built at start, about a second). Default true. */
  playground?: boolean;
  log?: (line: string) => void;
}

export interface NodeApiServer {
  url: string;
  port: number;
  /** The execution provider the edge model runs on. */
  provider: ExecutionProvider;
  close(): Promise<void>;
}

/** @example const api = await startNodeApi({ model: 'assets/demo-model', dataDir: '.data' }); console.log(api.url); */
export async function startNodeApi(o: NodeApiOptions): Promise<NodeApiServer> {
  const log = o.log ?? (() => {});
  // Settings first: a bad value fails before the model is read.
  const prefixCache = prefixCacheFromEnv(o.prefixCacheMb, NODE_PREFIX_CACHE_MB);
  const corsOrigins = parseCorsOrigins(o.corsOrigins);
  const tenants = await openFileTenantStore({ dir: o.dataDir, log });
  const loaded: OpenedModel = await openModel(o.model, {
    providers: o.providers ?? ['cpu'],
    threads: o.threads,
    log,
  });
  const modelId = o.modelId ?? loaded.manifest.name;
  const codec = packageCodec(loaded.manifest, loaded.files);
  const edge = runnerEngine({
    id: modelId,
    backend: 'edge-node',
    load: async () => ({ runner: loaded.runner, codec }),
    prefixCache,
  });
  const metrics = new ApiMetrics({ model: modelId, provider: loaded.provider });
  const store = metrics.metered(tenants);
  const engines = poolRegistry({
    poolConfig: o.poolConfig,
    secrets: o.secrets ?? process.env,
    edge,
    onDegrade: (model) => log(`degraded ${model} to the edge: pool down`),
  });
  const app = createApiApp({
    engines,
    tenants: store,
    limiter: createMemoryLimiter({ budgetUsed: tenants.usedTokens }),
    corsOrigins,
    grammar: new GrammarService({ runtime: nodeXGrammar }),
    docsAssets: nodeDocsAssets(),
    packages: (id) => (id === modelId ? dirPackageSource(loaded.dir) : undefined),
    log: (line) => {
      if (o.logRequests || line.startsWith('error') || line.startsWith('metering')) log(line);
    },
    health: () => ({
      loaded: true,
      model: modelId,
      provider: loaded.provider,
      ...('pools' in engines ? { pools: engines.pools() } : {}),
    }),
  });
  app.route('/', createAdminApp({ store, adminToken: o.adminToken }));
  documentAdminApi(app.openAPIRegistry);
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    summary: 'Prometheus metrics (vLLM-compatible names, per-tenant tokens)',
    tags: ['Admin'],
    security: [{ adminToken: [] }],
    responses: {
      200: { description: 'Prometheus text exposition', content: { 'text/plain': { schema: {} } } },
      401: { description: 'Missing or wrong admin token' },
    },
  });
  if (o.playground !== false) app.route('/', playgroundApp(await buildPlayground()));

  const { server, port } = await listen(
    metrics.wrap(async (request) => app.fetch(request), o.adminToken),
    o.port ?? 8787,
    o.host ?? '127.0.0.1',
  ).catch(async (e: unknown) => {
    await loaded.session.release();
    throw e;
  });
  const url = `http://${o.host ?? '127.0.0.1'}:${port}`;
  log(
    `ready: ${modelId} on ${loaded.provider} (${loaded.fetchMs.toFixed(0)} ms read, ${loaded.sessionMs.toFixed(0)} ms session) at ${url}`,
  );
  if (o.playground !== false) log(`playground: ${url}/`);

  return {
    url,
    port,
    provider: loaded.provider,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Streams still open after the grace period are cut.
      const cut = setTimeout(() => server.closeAllConnections(), 10_000);
      await closed;
      clearTimeout(cut);
      // The session is not released: a generation whose connection was just cut may still be inside a forward.
      // The process exits next.
    },
  };
}
