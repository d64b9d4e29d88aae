/**
 * The admin API: tenants, keys (create, rotate, revoke) and usage, behind `Authorization: Bearer <ADMIN_TOKEN>`.
 * Routes carry their full `/admin/...` paths, so mount with `app.route('/', createAdminApp(...))`.
 */
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import {
  keyCreateBody,
  keyJson,
  keyRotateBody,
  tenantCreateBody,
  tenantJson,
  tenantPatchBody,
  toEpochMs,
  toTenantInput,
  usageJson,
  usageQuery,
} from './schemas.ts';
import { ApiError, badRequest, renderErrors, type ErrorType } from '../../api/errors.ts';
import { bearerAuth } from '../../api/bearer-auth.ts';
import { bodyLimit } from '../../api/body-limit.ts';
import { TenantStoreError, type TenantAdminStore, type TenantInput } from '../types.ts';

export interface AdminAppOptions {
  store: TenantAdminStore;
  /** The admin bearer token; when empty or absent every admin route answers 403 (admin API disabled). */
  adminToken?: string | null;
  /** Clock in epoch milliseconds (key status in responses). Default `Date.now`. */
  now?: () => number;
  /** Request bodies above this are refused with 413. Default 64 KiB (a tenant record is far smaller). */
  maxBodyBytes?: number;
}

const STORE_ERRORS: Record<TenantStoreError['code'], [number, ErrorType]> = {
  tenant_not_found: [404, 'not_found_error'],
  key_not_found: [404, 'not_found_error'],
  key_revoked: [400, 'invalid_request_error'],
  key_expired: [400, 'invalid_request_error'],
};

/**
 * Creates the admin sub-app.
 * @example
 * app.route('/', createAdminApp({ store: createD1TenantStore({ db: env.DB }), adminToken: env.ADMIN_TOKEN }));
 */
export function createAdminApp(options: AdminAppOptions): Hono {
  const { store, adminToken, now = Date.now, maxBodyBytes = 64 << 10 } = options;
  const app = new Hono();

  const render = renderErrors({ log: (line) => console.error(`admin: ${line}`) });
  app.onError((error, c) => {
    if (!(error instanceof TenantStoreError)) return render(error, c);
    const [status, type] = STORE_ERRORS[error.code];
    return render(new ApiError(status, type, error.message, { code: error.code }), c);
  });
  app.use(
    '/admin/*',
    bearerAuth({ token: adminToken, name: 'admin token', setting: 'the ADMIN_TOKEN secret' }),
    bodyLimit({ maxBytes: maxBodyBytes }),
    async (c, next) => {
      c.header('cache-control', 'no-store');
      await next();
    },
  );

  app.post('/admin/tenants', async (c) => {
    const body = await parseBody(c, tenantCreateBody);
    const tenant = await store.createTenant(toTenantInput(body) as TenantInput);
    return c.json(tenantJson(tenant), 201);
  });
  app.get('/admin/tenants', async (c) => {
    const tenants = await store.listTenants({
      after: c.req.query('after'),
      limit: Number(c.req.query('limit') ?? 100) || 100,
    });
    return c.json({ object: 'list', data: tenants.map(tenantJson) });
  });
  app.get('/admin/tenants/:id', async (c) => {
    const tenant = await store.getTenant(c.req.param('id'));
    if (!tenant)
      throw new TenantStoreError('tenant_not_found', `No tenant with id '${c.req.param('id')}'.`);
    return c.json(tenantJson(tenant));
  });
  app.patch('/admin/tenants/:id', async (c) => {
    const body = await parseBody(c, tenantPatchBody);
    return c.json(tenantJson(await store.updateTenant(c.req.param('id'), toTenantInput(body))));
  });
  app.get('/admin/tenants/:id/keys', async (c) => {
    const keys = await store.listKeys(c.req.param('id'));
    return c.json({ object: 'list', data: keys.map((key) => keyJson(key, now())) });
  });
  app.post('/admin/tenants/:id/keys', async (c) => {
    const body = await parseBody(c, keyCreateBody);
    const expiresAt = body.expires_at == null ? null : toEpochMs(body.expires_at);
    if (expiresAt !== null && expiresAt <= now())
      throw invalid('expires_at must be in the future.', 'expires_at');
    const created = await store.createKey({ tenantId: c.req.param('id'), expiresAt });
    return c.json(keyJson(created, now()), 201);
  });
  app.post('/admin/keys/:keyId/rotate', async (c) => {
    const body = await parseBody(c, keyRotateBody);
    const at = now();
    const revokeOldAt =
      body.revoke_old_at === undefined ? at : Math.max(at, toEpochMs(body.revoke_old_at));
    // Absent: the new key keeps the old key's expiry; null: it never expires.
    const expiresAt =
      body.expires_at === undefined
        ? undefined
        : body.expires_at === null
          ? null
          : toEpochMs(body.expires_at);
    if (expiresAt != null && expiresAt <= at)
      throw invalid('expires_at must be in the future.', 'expires_at');
    const rotated = await store.rotateKey(c.req.param('keyId'), { revokeOldAt, expiresAt });
    return c.json({ ...keyJson(rotated, now()), replaced: keyJson(rotated.replaced, now()) }, 201);
  });
  app.delete('/admin/keys/:keyId', async (c) =>
    c.json(keyJson(await store.revokeKey(c.req.param('keyId')), now())),
  );
  app.get('/admin/tenants/:id/usage', async (c) => {
    const query = validate(usageQuery, c.req.query());
    const since = query.since === undefined ? undefined : toEpochMs(query.since);
    return c.json(usageJson(await store.usage(c.req.param('id'), since)));
  });

  return app;
}

async function parseBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch {
      throw invalid('The request body is not valid JSON.', null);
    }
  }
  return validate(schema, value);
}

function validate<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue.code === 'unrecognized_keys' ? issue.keys[0] : issue.path.join('.') || null;
  const message =
    issue.code === 'unrecognized_keys'
      ? `Unrecognized field '${param}'.`
      : param
        ? `Invalid '${param}': ${issue.message}.`
        : `Invalid request body: ${issue.message}.`;
  throw invalid(message, param);
}

function invalid(message: string, param: string | null): ApiError {
  return badRequest(message, param, 'invalid_value');
}
