/**
 * createApiApp: the OpenAI-compatible routes (/v1/models, /v1/completions, /v1/chat/completions, /v1/usage),
 * /health, /openapi.json and /docs, over injected engines, tenants and limiter. Runtime-agnostic: the Worker
 * and the Node server both mount it.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { bodyLimit } from 'hono/body-limit';
import type { Context } from 'hono';
import type { EngineRegistry } from './engine.ts';
import type { Limiter, TenantStore } from './tenancy.ts';
import { ApiError, badRequest, errorResponse, toApiError } from './errors.ts';
import { tenantAuth } from './auth.ts';
import { requestIds } from './request-id.ts';
import { apiCors, type CorsOrigins } from './cors.ts';
import {
  ChatCompletionRequestSchema,
  CompletionRequestSchema,
  ErrorSchema,
  ModelCardSchema,
  messageText,
  rejectUnsupported,
  type ChatCompletionRequest,
  type CompletionRequest,
} from './schemas.ts';
import { findEngine, openEngine, prepareOptions, type Prepared } from './prepare.ts';
import { CHAT, COMPLETION, respond, type Flavor } from './respond.ts';
import { docsPage } from './docs-page.ts';

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

const errorResponses = {
  400: { description: 'Invalid request', content: { 'application/json': { schema: ErrorSchema } } },
  401: {
    description: 'Missing, invalid, revoked or expired key',
    content: { 'application/json': { schema: ErrorSchema } },
  },
  429: {
    description: 'Rate limit or quota',
    content: { 'application/json': { schema: ErrorSchema } },
  },
};

const modelCard = (e: { id: string; ownedBy: string; backend: string }) => ({
  id: e.id,
  object: 'model' as const,
  created: 0,
  owned_by: e.ownedBy,
  backend: e.backend,
});

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

  app.onError((e, c) => {
    const err =
      e instanceof HTTPException && !(e instanceof ApiError)
        ? e.status === 413
          ? new ApiError(413, 'invalid_request_error', 'request body too large', {
              code: 'request_too_large',
            })
          : badRequest(e.message || 'invalid request body')
        : toApiError(e);
    if (err.status >= 500)
      log?.(
        `error ${c.req.method} ${c.req.path} request=${c.get('requestId')}: ${(e as Error).name}`,
      );
    return errorResponse(err);
  });
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

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/models',
      summary: 'Models this key may use',
      responses: {
        200: {
          description: 'Model list',
          content: {
            'application/json': {
              schema: z.object({ object: z.literal('list'), data: z.array(ModelCardSchema) }),
            },
          },
        },
        ...errorResponses,
      },
    }),
    (c) => {
      const tenant = c.get('tenant');
      const data = engines
        .list()
        .filter((e) => !tenant.models || tenant.models.includes(e.id))
        .map(modelCard);
      return c.json({ object: 'list' as const, data }, 200);
    },
  );

  // One model (client.models.retrieve); ids may contain "/" (HF-style names). A model the key may not use is
  // reported as not found, as in the list.
  app.get('/v1/models/:model{.+}', (c) => {
    const tenant = c.get('tenant');
    const id = c.req.param('model'); // already decoded by the router
    const engine = engines
      .list()
      .find((e) => e.id === id && (!tenant.models || tenant.models.includes(e.id)));
    if (!engine)
      throw new ApiError(
        404,
        'invalid_request_error',
        `The model '${id}' does not exist or this key may not use it`,
        { code: 'model_not_found', param: 'model' },
      );
    return c.json(modelCard(engine));
  });

  /** Shared by both generation routes once the prompts are tokenized. */
  const generate = async (
    c: Context,
    flavor: Flavor,
    body: ChatCompletionRequest | CompletionRequest,
    toPrompts: (p: Prepared['model']) => number[][],
  ) => {
    const started = Date.now();
    const tenant = c.get('tenant');
    rejectUnsupported(body as Record<string, unknown>);
    const engine = findEngine(engines, tenant, body.model);
    const model = await openEngine(engine);
    const prompts = toPrompts(model);
    const rest = prepareOptions(body, tenant, model, prompts);
    const prepared: Prepared = { engine, model, prompts, ...rest };
    const reserved =
      prompts.reduce((s, p) => s + p.length, 0) + rest.maxTokens * rest.n * prompts.length;
    const admission = await limiter.admit(tenant, reserved);
    const headers = Object.fromEntries(
      Object.entries(admission.headers).filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
    if (!admission.ok) {
      const { refusal } = admission;
      throw new ApiError(
        429,
        refusal.code === 'insufficient_quota' ? 'insufficient_quota' : 'rate_limit_error',
        refusal.message,
        {
          code: refusal.code,
          headers: {
            ...headers,
            'retry-after': String(Math.max(1, Math.ceil(refusal.retryAfterSeconds))),
          },
        },
      );
    }
    const requestId = c.get('requestId');
    let settled = false;
    const onDone = (o: { promptTokens: number; completionTokens: number; status: number }) => {
      if (settled) return;
      settled = true;
      const work = Promise.all([
        limiter.release(tenant, admission.leaseId, o.promptTokens + o.completionTokens),
        tenants.recordUsage({
          tenantId: tenant.id,
          keyId: c.get('keyId'),
          requestId,
          model: engine.id,
          backend: model.backend ?? engine.backend,
          promptTokens: o.promptTokens,
          completionTokens: o.completionTokens,
          status: o.status,
          durationMs: Date.now() - started,
          at: Date.now(),
        }),
      ]).catch((e: unknown) => log?.(`metering failed: ${(e as Error).name}`));
      try {
        c.executionCtx.waitUntil(work);
      } catch {
        /* Node: no execution context; the promise runs anyway */
      }
      const client = c.get('clientRequestId');
      log?.(
        `${c.req.path} request=${requestId}${client ? ` client_request=${client}` : ''} tenant=${tenant.id} model=${engine.id} status=${o.status} prompt=${o.promptTokens} completion=${o.completionTokens}`,
      );
    };
    return respond(c, {
      flavor,
      prepared,
      modelId: engine.id,
      stream: body.stream === true,
      keepAliveMs,
      headers,
      onDone,
      includeUsage: body.stream_options?.include_usage === true,
      includeDenoising: body.stream_options?.include_denoising === true,
    });
  };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/chat/completions',
      summary: 'Chat completion (JSON or SSE stream)',
      request: {
        body: {
          content: { 'application/json': { schema: ChatCompletionRequestSchema } },
          required: true,
        },
      },
      responses: {
        200: { description: 'A chat completion, or an SSE stream of chunks' },
        ...errorResponses,
      },
    }),
    (c) => {
      const body = c.req.valid('json');
      return generate(c, CHAT, body, (model) => {
        const messages = body.messages.map((m, i) => ({
          role: m.role === 'developer' ? 'system' : m.role,
          content: messageText(m.content, i),
        }));
        return [model.codec.encode(model.codec.applyChatTemplate(messages))];
      }) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/completions',
      summary: 'Text completion (JSON or SSE stream)',
      request: {
        body: {
          content: { 'application/json': { schema: CompletionRequestSchema } },
          required: true,
        },
      },
      responses: {
        200: { description: 'A completion, or an SSE stream of chunks' },
        ...errorResponses,
      },
    }),
    (c) => {
      const body = c.req.valid('json');
      return generate(c, COMPLETION, body, (model) => {
        const p = body.prompt;
        if (typeof p === 'string') return [model.codec.encode(p)];
        if (typeof p[0] === 'string') return (p as string[]).map((s) => model.codec.encode(s));
        if (typeof p[0] === 'number') return [p as number[]];
        return p as number[][];
      }) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/usage',
      summary: "The calling tenant's usage",
      request: { query: z.object({ since: z.coerce.number().int().nonnegative().optional() }) },
      responses: { 200: { description: 'Usage summary' }, ...errorResponses },
    }),
    async (c) => c.json(await tenants.usage(c.get('tenant').id, c.req.valid('query').since), 200),
  );

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
