/**
 * /openapi.json documents every route the app serves (the admin API included) with security schemes, servers,
 * operationIds and response bodies, names the served model in its examples, and passes `redocly lint` (the
 * recommended ruleset) with 0 errors. /docs serves Swagger UI with its own assets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApiApp } from './app.ts';
import { staticRegistry } from './engine.ts';
import { StaticTenantStore, unlimited } from './single-tenant.ts';
import { documentAdminApi } from '../tenants/admin/openapi.ts';
import { createAdminApp, createMemoryTenantStore } from '../tenants/index.ts';
import { nodeDocsAssets } from '../../backends/node/api/docs-assets.ts';
import { scriptedToolModel } from '../../test/fixtures/tool-model.ts';

type Doc = {
  servers: { url: string }[];
  security: unknown[];
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
  paths: Record<
    string,
    Record<string, { operationId?: string; responses: Record<string, unknown> }>
  >;
};

describe('OpenAPI document and /docs', () => {
  let app: ReturnType<typeof createApiApp>;
  let doc: Doc;
  let dir: string;

  before(async () => {
    app = createApiApp({
      engines: staticRegistry([scriptedToolModel('served-model', () => 'x').engine]),
      tenants: new StaticTenantStore({}),
      limiter: unlimited,
      docsAssets: nodeDocsAssets(),
    });
    app.route('/', createAdminApp({ store: createMemoryTenantStore(), adminToken: 't' }));
    documentAdminApi(app.openAPIRegistry);
    doc = (await (await app.request('https://api.example.org/openapi.json')).json()) as Doc;
    dir = await mkdtemp(join(tmpdir(), 'unmask-openapi-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('every served route is documented, with an operationId and a 2xx response body', () => {
    const served = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
        // Swagger UI's own files are the page's, not API routes.
        .filter((r) => !r.path.startsWith('/docs/assets/'))
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}')}`),
    );
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m} ${path}`),
      ),
    );
    assert.deepEqual(
      [...served].filter((r) => !documented.has(r)),
      [],
    );
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        assert.ok(op.operationId, `${method} ${path} has an operationId`);
        assert.ok(!ids.has(op.operationId!), `operationId ${op.operationId} is unique`);
        ids.add(op.operationId!);
        assert.ok(
          Object.keys(op.responses).some((s) => s.startsWith('2')),
          `${method} ${path} documents its answer`,
        );
      }
    for (const path of ['/v1/responses', '/v1/models/{model}', '/admin/tenants', '/health'])
      assert.ok(doc.paths[path], path);
  });

  test('servers is the caller’s origin; tenant keys and the admin token are bearer schemes; examples name the served model', () => {
    assert.deepEqual(
      doc.servers.map((s) => s.url),
      ['https://api.example.org'],
    );
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), [
      'adminToken',
      'bearerAuth',
    ]);
    assert.deepEqual(doc.security, [{ bearerAuth: [] }]);
    const text = JSON.stringify(doc);
    assert.ok(text.includes('"example":"served-model"'));
    assert.ok(!text.includes('"example":"unmask-demo"'));
    assert.ok(!/"echo"|"suffix"/.test(text), 'refused fields are not offered');
  });

  test('redocly lint (recommended rules): 0 errors', async () => {
    const file = join(dir, 'openapi.json');
    await writeFile(file, JSON.stringify(doc));
    const run = spawnSync(
      process.execPath,
      [resolve('node_modules/@redocly/cli/bin/cli.js'), 'lint', file, '--format=summary'],
      { encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off', NO_COLOR: '1' } },
    );
    const out = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.status, 0, out);
    assert.doesNotMatch(out, /^error\s/m, out);
    assert.match(out, /Your API description is valid/);
  });

  test('/docs: Swagger UI from this server (no CDN), its assets served', async () => {
    const page = await (await app.request('/docs')).text();
    assert.match(page, /SwaggerUIBundle\(/);
    assert.match(page, /url: '\/openapi.json'/);
    assert.doesNotMatch(page, /https?:\/\//, 'no external URL');
    const script = await app.request('/docs/assets/swagger-ui-dist/swagger-ui-bundle.js');
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    assert.ok((await script.text()).length > 1_000_000);
    const css = await app.request('/docs/assets/swagger-ui-dist/swagger-ui.css');
    assert.match(css.headers.get('content-type') ?? '', /css/);
    assert.equal((await app.request('/docs/assets/swagger-ui-dist/index.html')).status, 404);
  });
});
