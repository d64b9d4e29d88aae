/** GET /v1/usage: the calling tenant's own usage (and budget, when it has one). */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { TenantStore } from '../tenancy.ts';
import { UsageSummarySchema } from '../protocol/schemas.ts';
import { errorResponses } from './openapi.ts';

const usageRoute = createRoute({
  method: 'get',
  path: '/v1/usage',
  operationId: 'getUsage',
  summary: "The calling tenant's usage",
  request: {
    query: z.object({
      since: z.coerce
        .number()
        .int()
        .nonnegative()
        .optional()
        .openapi({ description: 'Epoch ms; default: everything recorded' }),
    }),
  },
  responses: {
    200: {
      description: 'Usage summary',
      content: { 'application/json': { schema: UsageSummarySchema } },
    },
    ...errorResponses,
  },
});

export function usageRoutes(app: OpenAPIHono, tenants: TenantStore): void {
  app.openapi(usageRoute, async (c) =>
    c.json(await tenants.usage(c.get('tenant').id, c.req.valid('query').since), 200),
  );
}
