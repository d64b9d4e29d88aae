/**
 * createApiApp: the OpenAI-compatible API (/v1/models, /v1/completions, /v1/chat/completions, /v1/usage), /health,
 * /openapi.json and /docs, over injected engines, tenants and limiter. Runtime-agnostic: the Worker and the Node
 * server both mount it. This file is the routing table; protocol/ holds the wire shapes, serving/ the work.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { EngineRegistry } from './engine.ts';
import type { Limiter, TenantStore } from './tenancy.ts';
import { ApiError, badRequest, errorResponse, renderErrors } from './errors.ts';
import { tenantAuth } from './auth.ts';
import { requestIds } from './request-id.ts';
import { apiCors, type CorsOrigins } from './cors.ts';
import { docsPage } from './docs-page.ts';
import { createMeter } from './serving/metering.ts';
import { generationRoutes } from './routes/generation.ts';
import { modelRoutes } from './routes/models.ts';
import { usageRoutes } from './routes/usage.ts';

export interface ApiOptions {
  engines: EngineRegistry;
  tenants: TenantStore;
  limiter: Limiter;
  /** SSE comment interval while a stream waits. Default 15 s. */
  keepAliveMs?: number;
  /** Request bodies above this are refused with 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Logs one line per request (never keys). Default: none. */
  log?: (line: string) => void;
  /** Extra fields for GET /health (e.g. the edge engine's load state). */
  health?: () => Record<string, unknown>;
  /** Origins browsers may call /v1/* from (default '*'; null: no CORS headers). */
  corsOrigins?: CorsOrigins;
}

/** @example const app = createApiApp({ engines, tenants, limiter }); export default { fetch: app.fetch }; */
export function createApiApp(opts: ApiOptions): OpenAPIHono {
  const {
    engines,
    tenants,
    limiter,
    keepAliveMs = 15_000,
    maxBodyBytes = 1 << 20,
    log,
    health,
    corsOrigins = '*',
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

  app.onError(renderErrors({ log }));
  app.notFound((c) =>
    errorResponse(
      new ApiError(404, 'not_found_error', `No route for ${c.req.method} ${c.req.path}`, {
        code: 'route_not_found',
      }),
    ),
  );

  app.use('*', requestIds());
  const corsMiddleware = apiCors(corsOrigins);
  if (corsMiddleware) app.use('/v1/*', corsMiddleware);
  app.get('/health', (c) =>
    c.json({
      status: 'ok',
      models: engines.list().map((e) => ({ id: e.id, backend: e.backend })),
      ...health?.(),
    }),
  );
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw new ApiError(
          413,
          'invalid_request_error',
          `request body exceeds ${maxBodyBytes} bytes`,
          { code: 'request_too_large' },
        );
      },
    }),
  );
  app.use('/v1/*', tenantAuth(tenants));

  modelRoutes(app, engines);
  generationRoutes(app, { engines, meter: createMeter({ limiter, tenants, log }), keepAliveMs });
  usageRoutes(app, tenants);

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Unmask API',
      version: '1.0.0',
      description: 'OpenAI-compatible serving for block-diffusion language models.',
    },
  });
  app.get('/docs', (c) => c.html(docsPage()));
  return app;
}
