/**
 * The admin API in the OpenAPI document: its paths, bodies (the zod schemas the routes validate with) and the
 * JSON views of tenants, keys and usage. Routes are plain Hono (routes.ts); this only describes them.
 * @example documentAdminApi(app.openAPIRegistry)
 */
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { keyCreateBody, keyRotateBody, tenantCreateBody, tenantPatchBody } from './schemas.ts';
import { ErrorSchema } from '../../api/protocol/schemas.ts';

type Registry = OpenAPIHono['openAPIRegistry'];

const iso = z.string().nullable().openapi({ format: 'date-time' });

const TenantSchema = z
  .object({
    id: z.string().openapi({ example: 'ten_0123456789abcdef' }),
    object: z.literal('tenant'),
    name: z.string(),
    models: z.array(z.string()).nullable(),
    rpm: z.number().int().nullable(),
    tpm: z.number().int().nullable(),
    max_concurrent: z.number().int().nullable(),
    max_tokens: z.number().int().nullable(),
    budget_tokens: z.number().int().nullable(),
    budget_period: z.enum(['day', 'month']).nullable(),
    degrade_to_edge: z.boolean(),
    created_at: iso,
  })
  .openapi('Tenant');

const KeySchema = z
  .object({
    id: z.string().openapi({ example: 'key_0123456789abcdef' }),
    object: z.literal('api_key'),
    key: z
      .string()
      .optional()
      .openapi({ description: 'The secret, only in the create and rotate responses.' }),
    tenant_id: z.string(),
    hint: z.string(),
    status: z.enum(['active', 'expired', 'revoked']),
    created_at: iso,
    expires_at: iso,
    revoked_at: iso,
  })
  .openapi('ApiKey');

const RotatedKeySchema = KeySchema.extend({ replaced: KeySchema }).openapi('RotatedApiKey');

const TenantUsageSchema = z
  .object({
    object: z.literal('tenant.usage'),
    tenant_id: z.string(),
    since: iso,
    requests: z.number().int(),
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
    by_model: z.record(
      z.string(),
      z.object({
        requests: z.number().int(),
        prompt_tokens: z.number().int(),
        completion_tokens: z.number().int(),
      }),
    ),
    budget: z
      .object({
        period: z.enum(['day', 'month']),
        period_start: iso,
        period_end: iso,
        limit_tokens: z.number().int(),
        used_tokens: z.number().int(),
        remaining_tokens: z.number().int(),
      })
      .nullable(),
  })
  .openapi('TenantUsage');

const list = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ object: z.literal('list'), data: z.array(item) }).openapi(name);

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const errors = {
  400: json(ErrorSchema, 'Invalid body or parameter (the envelope names the field)'),
  401: json(ErrorSchema, 'Missing or wrong admin token'),
  403: json(ErrorSchema, 'The admin API is disabled (no ADMIN_TOKEN set)'),
  404: json(ErrorSchema, 'No such tenant or key'),
};
const body = (schema: z.ZodType) => ({
  body: { content: { 'application/json': { schema } }, required: false },
});
const tenantId = z.object({ id: z.string().openapi({ example: 'ten_0123456789abcdef' }) });
const keyId = z.object({ keyId: z.string().openapi({ example: 'key_0123456789abcdef' }) });
const security = [{ adminToken: [] }];
const tags = ['Admin'];

export function documentAdminApi(registry: Registry): void {
  const path = (
    method: 'get' | 'post' | 'patch' | 'delete',
    route: string,
    operationId: string,
    summary: string,
    request: Record<string, unknown>,
    ok: [number, z.ZodType, string],
  ) =>
    registry.registerPath({
      method,
      path: route,
      operationId,
      summary,
      tags,
      security,
      request,
      responses: { [ok[0]]: json(ok[1], ok[2]), ...errors },
    });
  path('post', '/admin/tenants', 'adminCreateTenant', 'Create a tenant', body(tenantCreateBody), [
    201,
    TenantSchema,
    'The tenant',
  ]);
  path(
    'get',
    '/admin/tenants',
    'adminListTenants',
    'List tenants (paged by id)',
    {
      query: z.object({
        after: z.string().optional(),
        limit: z.number().int().min(1).max(1000).optional(),
      }),
    },
    [200, list(TenantSchema, 'TenantList'), 'Tenants'],
  );
  path('get', '/admin/tenants/{id}', 'adminGetTenant', 'One tenant', { params: tenantId }, [
    200,
    TenantSchema,
    'The tenant',
  ]);
  path(
    'patch',
    '/admin/tenants/{id}',
    'adminUpdateTenant',
    'Change a tenant (limits, models, name)',
    { params: tenantId, ...body(tenantPatchBody) },
    [200, TenantSchema, 'The tenant'],
  );
  path(
    'get',
    '/admin/tenants/{id}/keys',
    'adminListKeys',
    "A tenant's keys (never the secrets)",
    { params: tenantId },
    [200, list(KeySchema, 'ApiKeyList'), 'Keys'],
  );
  path(
    'post',
    '/admin/tenants/{id}/keys',
    'adminCreateKey',
    'Create a key (the secret is shown once)',
    { params: tenantId, ...body(keyCreateBody) },
    [201, KeySchema, 'The key, with its secret'],
  );
  path(
    'post',
    '/admin/keys/{keyId}/rotate',
    'adminRotateKey',
    'A new key beside the old one, which is revoked at revoke_old_at',
    { params: keyId, ...body(keyRotateBody) },
    [201, RotatedKeySchema, 'The new key, with its secret, and the one it replaces'],
  );
  path('delete', '/admin/keys/{keyId}', 'adminRevokeKey', 'Revoke a key now', { params: keyId }, [
    200,
    KeySchema,
    'The revoked key',
  ]);
  path(
    'get',
    '/admin/tenants/{id}/usage',
    'adminTenantUsage',
    "A tenant's usage and budget",
    {
      params: tenantId,
      query: z.object({
        since: z
          .string()
          .optional()
          .openapi({ description: 'ISO 8601 time or Unix seconds; default: everything recorded' }),
      }),
    },
    [200, TenantUsageSchema, 'Usage'],
  );
}
