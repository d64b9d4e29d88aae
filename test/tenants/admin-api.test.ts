/**
 * The admin API in workerd (Miniflare, listening on a port): bearer auth, zod validation errors naming the
 * field in the OpenAI envelope, PATCH semantics, no key or hash in any later body, and the `tenant` CLI.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { ADMIN_TOKEN, startWorker, type WorkerHarness } from '../fixtures/tenants/harness.ts';

type Json = Record<string, unknown>;
interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

let cliBundle: Promise<string> | undefined;

/** scripts/tenant.ts bundled once with esbuild, so each run skips tsx's start-up (the code is the same). */
function bundleCli(): Promise<string> {
  cliBundle ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unmask-tenant-cli-'));
    const outfile = join(dir, 'tenant.mjs');
    await build({
      entryPoints: ['scripts/tenant.ts'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      logLevel: 'silent',
    });
    return outfile;
  })();
  return cliBundle;
}

async function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = await bundleCli();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('admin API (workerd)', () => {
  let w: WorkerHarness;
  before(async () => {
    w = await startWorker({ listen: true });
  });
  after(async () => {
    await w?.dispose();
    if (cliBundle) await rm(dirname(await cliBundle), { recursive: true, force: true });
  });

  const expectError = async (
    path: string,
    init: Parameters<WorkerHarness['json']>[1],
    status: number,
    type: string,
    param?: string | null,
  ) => {
    const { status: got, body } = await w.json<ErrorBody>(path, init);
    assert.equal(got, status, JSON.stringify(body));
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(body.error.type, type);
    if (param !== undefined) assert.equal(body.error.param, param);
    return body.error;
  };

  test('every admin route wants the admin bearer token: 401 authentication_error otherwise', async () => {
    const routes: Array<[string, string]> = [
      ['POST', '/admin/tenants'],
      ['GET', '/admin/tenants/ten_x'],
      ['PATCH', '/admin/tenants/ten_x'],
      ['POST', '/admin/tenants/ten_x/keys'],
      ['POST', '/admin/keys/key_x/rotate'],
      ['DELETE', '/admin/keys/key_x'],
      ['GET', '/admin/tenants/ten_x/usage'],
    ];
    for (const [method, path] of routes) {
      await expectError(
        path,
        { method, body: method === 'GET' || method === 'DELETE' ? undefined : {} },
        401,
        'authentication_error',
      );
    }
    for (const authorization of [
      `Bearer ${ADMIN_TOKEN}x`,
      `Basic ${ADMIN_TOKEN}`,
      'Bearer ',
      ADMIN_TOKEN,
    ]) {
      await expectError(
        '/admin/tenants',
        { headers: { authorization } },
        401,
        'authentication_error',
      );
    }
    const { body: key } = await w.json<Json>('/admin/tenants', {
      admin: true,
      body: { name: 'k' },
    });
    const tenantKey = await w.json<Json>(`/admin/tenants/${key.id}/keys`, {
      admin: true,
      body: {},
    });
    // A tenant's API key is not an admin token.
    await expectError(
      '/admin/tenants',
      { headers: { authorization: `Bearer ${tenantKey.body.key}` } },
      401,
      'authentication_error',
    );
  });

  test('validation: 400 invalid_request_error naming the field', async () => {
    const bad: Array<[unknown, string | null]> = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x', rpm: 0 }, 'rpm'],
      [{ name: 'x', tpm: 1.5 }, 'tpm'],
      [{ name: 'x', max_concurrent: '2' }, 'max_concurrent'],
      [{ name: 'x', models: [] }, 'models'],
      [{ name: 'x', models: ['ok', 3] }, 'models.1'],
      [{ name: 'x', budget_period: 'week' }, 'budget_period'],
      [{ name: 'x', degrade_to_edge: 'yes' }, 'degrade_to_edge'],
      [{ name: 'x', colour: 'red' }, 'colour'],
      [[1], null],
    ];
    for (const [body, param] of bad) {
      const error = await expectError(
        '/admin/tenants',
        { admin: true, body },
        400,
        'invalid_request_error',
        param,
      );
      if (param) assert.match(error.message, new RegExp(param.replace('.', '\\.')));
    }
    await expectError(
      '/admin/tenants',
      {
        admin: true,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: undefined,
      },
      400,
      'invalid_request_error',
      'name',
    );
    const broken = await w.call('/admin/tenants', {
      admin: true,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(broken.status, 400);
    const { body: tenant } = await w.json<Json>('/admin/tenants', {
      admin: true,
      body: { name: 'v' },
    });
    await expectError(
      `/admin/tenants/${tenant.id}/keys`,
      { admin: true, body: { expires_at: 'tomorrow' } },
      400,
      'invalid_request_error',
      'expires_at',
    );
    await expectError(
      `/admin/tenants/${tenant.id}/keys`,
      { admin: true, body: { expires_at: '2001-01-01T00:00:00Z' } },
      400,
      'invalid_request_error',
      'expires_at',
    );
    await expectError(
      `/admin/tenants/${tenant.id}`,
      { admin: true, method: 'PATCH', body: { rpm: -1 } },
      400,
      'invalid_request_error',
      'rpm',
    );
    await expectError(
      `/admin/tenants/${tenant.id}/usage?since=yesterday`,
      { admin: true },
      400,
      'invalid_request_error',
      'since',
    );
  });

  test('unknown tenants and keys: 404 not_found_error', async () => {
    for (const [method, path] of [
      ['GET', '/admin/tenants/ten_nope'],
      ['PATCH', '/admin/tenants/ten_nope'],
      ['POST', '/admin/tenants/ten_nope/keys'],
      ['GET', '/admin/tenants/ten_nope/usage'],
      ['POST', '/admin/keys/key_nope/rotate'],
      ['DELETE', '/admin/keys/key_nope'],
    ]) {
      await expectError(
        path,
        { admin: true, method, body: method === 'GET' || method === 'DELETE' ? undefined : {} },
        404,
        'not_found_error',
      );
    }
  });

  test('create returns 201 with defaults; PATCH changes only the given fields and null clears a limit', async () => {
    const created = await w.json<Json>('/admin/tenants', {
      admin: true,
      body: { name: 'p', rpm: 10, tpm: 1000, budget_tokens: 500 },
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    assert.deepEqual(
      { ...created.body, id: 0, created_at: 0 },
      {
        id: 0,
        object: 'tenant',
        name: 'p',
        models: null,
        rpm: 10,
        tpm: 1000,
        max_concurrent: null,
        max_tokens: null,
        budget_tokens: 500,
        budget_period: 'month',
        degrade_to_edge: false,
        created_at: 0,
      },
    );
    const patched = await w.json<Json>(`/admin/tenants/${created.body.id}`, {
      admin: true,
      method: 'PATCH',
      body: { rpm: null, models: ['tiny'], max_tokens: 256 },
    });
    assert.equal(patched.status, 200);
    assert.deepEqual(
      { ...patched.body },
      { ...created.body, rpm: null, models: ['tiny'], max_tokens: 256 },
    );
    const fetched = await w.json<Json>(`/admin/tenants/${created.body.id}`, { admin: true });
    assert.deepEqual(fetched.body, patched.body);
    const listed = await w.json<{ data: Json[] }>('/admin/tenants', { admin: true });
    assert.ok(listed.body.data.some((t) => t.id === created.body.id));
  });

  test('a key appears once, in its create/rotate response; no body ever carries a hash', async () => {
    const { body: tenant } = await w.json<Json>('/admin/tenants', {
      admin: true,
      body: { name: 'secret' },
    });
    const created = await w.json<Json>(`/admin/tenants/${tenant.id}/keys`, {
      admin: true,
      body: {},
    });
    assert.equal(created.status, 201);
    const key = String(created.body.key);
    assert.deepEqual(Object.keys(created.body).sort(), [
      'created_at',
      'expires_at',
      'hint',
      'id',
      'key',
      'object',
      'revoked_at',
      'status',
      'tenant_id',
    ]);
    assert.equal(created.body.hint, key.slice(-4));
    const rotated = await w.json<Json>(`/admin/keys/${created.body.id}/rotate`, {
      admin: true,
      body: { revoke_old_at: Math.floor(Date.now() / 1000) + 60 },
    });
    assert.equal(rotated.status, 201);
    const bodies = [
      await (await w.call(`/admin/tenants/${tenant.id}/keys`, { admin: true })).text(),
      await (
        await w.call(`/admin/keys/${rotated.body.id}`, { admin: true, method: 'DELETE' })
      ).text(),
      await (await w.call(`/admin/tenants/${tenant.id}`, { admin: true })).text(),
      JSON.stringify(rotated.body.replaced),
    ];
    for (const text of bodies) {
      assert.ok(
        !text.includes(key) && !text.includes(String(rotated.body.key)),
        'no key in later bodies',
      );
      assert.ok(!/[0-9a-f]{64}/.test(text), 'no hash in any body');
      assert.ok(!text.includes('"hash"'));
    }
    const list = JSON.parse(bodies[0]) as { data: Json[] };
    assert.deepEqual(
      list.data.map((k) => k.status),
      ['active', 'active'],
    ); // the old key is in its grace period
  });

  test('tenant CLI: create, key, usage, revoke print JSON; failures print one line and exit 1', async () => {
    const env = { UNMASK_URL: w.url.href, ADMIN_TOKEN };
    const created = await cli(
      [
        'create',
        '--name',
        'cli-co',
        '--rpm',
        '30',
        '--tpm',
        '9000',
        '--models',
        'tiny,mini',
        '--max-concurrent',
        '4',
        '--budget-tokens',
        '100000',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const tenant = JSON.parse(created.stdout) as Json;
    assert.deepEqual(
      [
        tenant.name,
        tenant.rpm,
        tenant.tpm,
        tenant.models,
        tenant.max_concurrent,
        tenant.budget_tokens,
      ],
      ['cli-co', 30, 9000, ['tiny', 'mini'], 4, 100000],
    );
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const key = await cli(['key', '--tenant', String(tenant.id), '--expires-at', expiresAt], env);
    assert.equal(key.code, 0, key.stderr);
    const keyJson = JSON.parse(key.stdout) as Json;
    assert.match(String(keyJson.key), /^sk-unmask-/);
    assert.equal(keyJson.expires_at, expiresAt);
    const [revoked, usage, missing, noToken] = await Promise.all([
      cli(['revoke', '--key', String(keyJson.id)], env),
      cli(['usage', '--tenant', String(tenant.id)], env),
      cli(['key', '--tenant', 'ten_nope'], env),
      cli(['list'], { ...env, ADMIN_TOKEN: '' }),
    ]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((JSON.parse(revoked.stdout) as Json).status, 'revoked');
    assert.equal(usage.code, 0, usage.stderr);
    assert.equal((JSON.parse(usage.stdout) as Json).requests, 0);
    for (const failed of [missing, noToken]) {
      assert.equal(failed.code, 1);
      assert.equal(failed.stdout, '');
      assert.equal(failed.stderr.trim().split('\n').length, 1, failed.stderr);
    }
    assert.match(
      missing.stderr,
      /^tenant: POST \/admin\/tenants\/ten_nope\/keys → 404: No tenant with id 'ten_nope'/,
    );
    assert.match(noToken.stderr, /ADMIN_TOKEN/);

    const oneStep = await cli(['create', '--name', 'with-key', '--with-key'], env);
    assert.equal(oneStep.code, 0, oneStep.stderr);
    const both = JSON.parse(oneStep.stdout) as Json & { key: Json };
    assert.equal(both.name, 'with-key');
    assert.equal(both.key.tenant_id, both.id);
    assert.match(String(both.key.key), /^sk-unmask-/);
    const wrongPlace = await cli(['list', '--with-key'], env);
    assert.equal(wrongPlace.code, 1);
    assert.match(wrongPlace.stderr, /--with-key applies to create only/);
  });
});
