import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAdminApp } from './routes.ts';
import type { TenantAdminStore } from '../types.ts';

const unusedStore = new Proxy(
  {},
  {
    get: () => () => {
      throw new Error('store must not be reached');
    },
  },
) as TenantAdminStore;

test('without an admin token the admin API is disabled: 403 permission_error, store untouched', async () => {
  for (const adminToken of [undefined, null, '']) {
    const app = createAdminApp({ store: unusedStore, adminToken });
    const response = await app.request('/admin/tenants', { headers: { authorization: 'Bearer ' } });
    assert.equal(response.status, 403);
    const body = (await response.json()) as {
      error: { type: string; code: string; message: string };
    };
    assert.equal(body.error.type, 'permission_error');
    assert.equal(body.error.code, 'admin_disabled');
    assert.match(body.error.message, /ADMIN_TOKEN/);
  }
});

test("a wrong token is refused before the store is reached; other paths are not the admin app's", async () => {
  const app = createAdminApp({ store: unusedStore, adminToken: 'right' });
  const refused = await app.request('/admin/tenants/ten_x', {
    headers: { authorization: 'Bearer wrong' },
  });
  assert.equal(refused.status, 401);
  assert.equal(
    ((await refused.json()) as { error: { type: string } }).error.type,
    'authentication_error',
  );
  assert.equal((await app.request('/v1/models')).status, 404); // mounted at '/', it claims only /admin/*
});

test('admin bodies are limited (413 in the OpenAI envelope) before the store is reached, chunked or not', async () => {
  const app = createAdminApp({ store: unusedStore, adminToken: 'right' });
  const huge = JSON.stringify({
    name: 'x',
    models: Array.from({ length: 20_000 }, (_, i) => `m${i}`),
  });
  const chunked = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(huge));
      controller.close();
    },
  });
  for (const body of [huge, chunked]) {
    const res = await app.request('/admin/tenants', {
      method: 'POST',
      headers: { authorization: 'Bearer right', 'content-type': 'application/json' },
      body,
      ...(typeof body === 'string' ? {} : { duplex: 'half' }),
    } as RequestInit);
    assert.equal(res.status, 413);
    const error = ((await res.json()) as { error: { code: string; type: string } }).error;
    assert.deepEqual(error, {
      message: 'request body exceeds 65536 bytes',
      type: 'invalid_request_error',
      param: null,
      code: 'request_too_large',
    });
  }
});
