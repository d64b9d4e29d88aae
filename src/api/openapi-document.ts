/**
 * /openapi.json: the OpenAPI 3.1 document of every route this server answers, built per request so that its
 * `servers` entry is the address the caller used (the docs page's "try it" then calls this very server) and
 * its examples name the model this server serves. Tenant keys and the admin token are bearer security schemes;
 * /health, /openapi.json and /docs need neither.
 */
import { z, type OpenAPIHono } from '@hono/zod-openapi';

/** The model id the schemas use as their example; replaced by the served model's id in each document. */
export const EXAMPLE_MODEL = 'unmask-demo';

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/** Security schemes and the public routes the app serves outside its OpenAPI routes. */
export function documentPublicRoutes(app: OpenAPIHono): void {
  const registry = app.openAPIRegistry;
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'A tenant API key (`sk-unmask-…`); `x-api-key: <key>` works too.',
  });
  registry.registerComponent('securitySchemes', 'adminToken', {
    type: 'http',
    scheme: 'bearer',
    description: "The server's ADMIN_TOKEN (admin and operator routes).",
  });
  registry.registerPath({
    method: 'get',
    path: '/health',
    operationId: 'getHealth',
    summary: 'Liveness and the served models (no key needed)',
    tags: ['Service'],
    security: [],
    responses: {
      200: json(
        z
          .looseObject({
            status: z.literal('ok'),
            models: z.array(z.object({ id: z.string(), backend: z.string() })),
          })
          .openapi('Health'),
        'Up; extra fields describe the edge model and the pools',
      ),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    summary: 'This document',
    tags: ['Service'],
    security: [],
    responses: { 200: json(z.looseObject({ openapi: z.string() }), 'OpenAPI 3.1 document') },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs',
    operationId: 'getDocsPage',
    summary: 'The API reference (Swagger UI over this document, with "try it")',
    tags: ['Service'],
    security: [],
    responses: {
      200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } },
    },
  });
}

export interface DocumentOptions {
  /** The origin the caller used (the `servers` entry). */
  origin: string;
  /** The served model id, for examples (default: the schemas' own). */
  model?: string;
}

export function openApiDocument(app: OpenAPIHono, o: DocumentOptions): Record<string, unknown> {
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Unmask API',
      version: '1.0.0',
      description:
        'OpenAI-compatible serving for block-diffusion language models (LLaDA2): chat completions, ' +
        'completions, the Responses API, models and usage, with diffusion extensions; plus the admin API.',
    },
    servers: [{ url: o.origin, description: 'This server' }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'OpenAI', description: 'The OpenAI-compatible API (tenant key)' },
      { name: 'Admin', description: 'Tenants, keys and usage (admin token)' },
      { name: 'Service', description: 'Health, this document and the docs page (public)' },
    ],
  }) as unknown as Record<string, unknown>;
  tagUntagged(doc, 'OpenAI');
  return o.model && o.model !== EXAMPLE_MODEL
    ? (replaceExamples(doc, EXAMPLE_MODEL, o.model) as Record<string, unknown>)
    : doc;
}

function tagUntagged(doc: Record<string, unknown>, tag: string): void {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, { tags?: string[] }>>;
  for (const ops of Object.values(paths))
    for (const op of Object.values(ops)) if (typeof op === 'object' && !op.tags) op.tags = [tag];
}

function replaceExamples(value: unknown, from: string, to: string): unknown {
  if (Array.isArray(value)) return value.map((v) => replaceExamples(v, from, to));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === 'example' && v === from ? to : replaceExamples(v, from, to),
    ]),
  );
}
