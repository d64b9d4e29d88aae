/**
 * createApiApp: the OpenAI-compatible API (/v1/models, /v1/completions, /v1/chat/completions, /v1/usage), /health,
 * /openapi.json and /docs, over injected engines, tenants and limiter. Runtime-agnostic: the Worker and the Node
 * server both mount it. This file is the routing table; protocol/ holds the wire shapes, serving/ the work.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { EngineRegistry } from './engine.ts';
import type { GrammarService } from '../grammar/index.ts';
import type { Limiter, TenantStore } from './tenancy.ts';
import { badRequest, renderErrors } from './errors.ts';
import { tenantAuth } from './auth.ts';
import { bodyLimit } from './body-limit.ts';
import { requestIds } from './request-id.ts';
import { apiCors, type CorsOrigins } from './cors.ts';
import { notFound } from './not-found.ts';
import { docsRoutes, type DocsAssets } from './docs-page.ts';
import { documentPublicRoutes, openApiDocument } from './openapi-document.ts';
import { createMeter } from './serving/metering.ts';
import { refuseBeforeBody } from './serving/early-refusal.ts';
import { generationRoutes } from './routes/generation.ts';
import { modelRoutes } from './routes/models.ts';
import { packageRoutes } from './routes/packages.ts';
import type { PackageSources } from './package-files.ts';
import { usageRoutes } from './routes/usage.ts';
import { responsesRoutes } from './routes/responses.ts';

export interface ApiOptions {
  engines: EngineRegistry;
  tenants: TenantStore;
  limiter: Limiter;
  /** SSE comment interval while a stream waits. Default 15 s. */
  keepAliveMs?: number;
  /** A stream whose client accepts no data for this long is ended (499) and its slot freed. Default 60 s. */
  streamStallTimeoutMs?: number;
  /** Request bodies above this are refused with 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Logs one line per request (never keys). Default: none. */
  log?: (line: string) => void;
  /**
   * Extra fields for GET /health (e.g. the edge engine's load state; public, so never paths or errors). A
   * `status` other than 'ok' replaces it; 'failed' answers 503.
   */
  health?: () => Record<string, unknown>;
  /** Origins browsers may call /v1/* from (default '*'; null: no CORS headers). */
  corsOrigins?: CorsOrigins;
  /** The grammar engine for response_format json_object / json_schema (absent: those are refused). */
  grammar?: GrammarService;
  /** Swagger UI's script and stylesheet for /docs (the Worker bundles them; Node reads swagger-ui-dist). */
  docsAssets?: DocsAssets;
  /** Package files of the models clients may download (GET /v1/models/{id}/package/…). Default: none. */
  packages?: PackageSources;
}

/** @example const app = createApiApp({ engines, tenants, limiter }); export default { fetch: app.fetch }; */
export function createApiApp(opts: ApiOptions): OpenAPIHono {
  const {
    engines,
    tenants,
    limiter,
    keepAliveMs = 15_000,
    streamStallTimeoutMs = 60_000,
    maxBodyBytes = 1 << 20,
    log,
    health,
    corsOrigins = '*',
    packages,
  } = opts;
  const app = new OpenAPIHono({
    defaultHook: (result) => {
      if (!result.success) {
        const issue = result.error.issues[0];
        const param = issue.path.map(String).join('.') || null;
        throw badRequest(`${param ?? 'body'}: ${issue.message}`, param);
      }
    },
  });

  app.onError(renderErrors({ log, openai: true }));
  app.notFound(notFound(app as never, { openai: true }));

  app.use('*', requestIds());
  const corsMiddleware = apiCors(corsOrigins);
  if (corsMiddleware) app.use('/v1/*', corsMiddleware);
  app.get('/health', (c) => {
    const report = {
      status: 'ok',
      models: engines.list().map((e) => ({ id: e.id, backend: e.backend })),
      ...health?.(),
    };
    return c.json(report, report.status === 'failed' ? 503 : 200);
  });
  app.use('/v1/*', bodyLimit({ maxBytes: maxBodyBytes }));
  // Generation requests may have their key checked by the admission call (one round trip for both).
  const generationPaths = new Set(['/v1/chat/completions', '/v1/completions', '/v1/responses']);
  const isGeneration = (c: Context) => c.req.method === 'POST' && generationPaths.has(c.req.path);
  app.use(
    '/v1/*',
    tenantAuth(tenants, { deferFor: limiter.admitWithKey ? isGeneration : undefined }),
  );
  // A tenant that can run nothing now is refused before its body is read (see early-refusal.ts).
  app.use('/v1/*', refuseBeforeBody(limiter, isGeneration));

  packageRoutes(app, engines, packages);
  modelRoutes(app, engines);
  const generation = {
    engines,
    meter: createMeter({ limiter, tenants, log }),
    tenants,
    keepAliveMs,
    grammar: opts.grammar,
    stallTimeoutMs: streamStallTimeoutMs,
  };
  generationRoutes(app, generation);
  responsesRoutes(app, generation);
  usageRoutes(app, tenants);

  documentPublicRoutes(app);
  app.get('/openapi.json', (c) =>
    c.json(
      openApiDocument(app, { origin: new URL(c.req.url).origin, model: engines.list()[0]?.id }),
    ),
  );
  docsRoutes(app, opts.docsAssets);
  return app;
}
