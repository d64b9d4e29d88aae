/** GET /v1/models and GET /v1/models/{id}: the models this key may use (others are reported as not found). */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { EngineRegistry, ModelEngine } from '../engine.ts';
import { mayUseModel, modelNotFound } from '../model-access.ts';
import { ModelCardSchema, ModelListSchema } from '../protocol/schemas.ts';
import { errorResponses } from './openapi.ts';

const modelCard = (e: ModelEngine) => ({
  id: e.id,
  object: 'model' as const,
  created: 0,
  owned_by: e.ownedBy,
  backend: e.backend,
});

const listRoute = createRoute({
  method: 'get',
  path: '/v1/models',
  operationId: 'listModels',
  summary: 'Models this key may use',
  responses: {
    200: {
      description: 'Model list',
      content: { 'application/json': { schema: ModelListSchema } },
    },
    ...errorResponses,
  },
});

// Ids may contain "/" (HF-style names).
const retrieveRoute = createRoute({
  method: 'get',
  path: '/v1/models/{model}',
  operationId: 'retrieveModel',
  summary: 'One model this key may use',
  request: { params: z.object({ model: z.string().openapi({ example: 'unmask-demo' }) }) },
  responses: {
    200: { description: 'The model', content: { 'application/json': { schema: ModelCardSchema } } },
    ...errorResponses,
  },
});

export function modelRoutes(app: OpenAPIHono, engines: EngineRegistry): void {
  app.openapi(listRoute, (c) => {
    const tenant = c.get('tenant');
    const data = engines
      .list()
      .filter((e) => mayUseModel(tenant, e.id))
      .map(modelCard);
    return c.json({ object: 'list' as const, data }, 200);
  });

  app.get('/v1/models/:model{.+}', (c) => {
    const tenant = c.get('tenant');
    const id = c.req.param('model'); // already decoded by the router
    const engine = engines.list().find((e) => e.id === id && mayUseModel(tenant, e.id));
    if (!engine) throw modelNotFound(id);
    return c.json(modelCard(engine));
  });
  // Documented with its OpenAPI route; served by the multi-segment route above.
  app.openAPIRegistry.registerPath(retrieveRoute);
}
