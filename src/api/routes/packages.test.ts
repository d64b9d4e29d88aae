/** GET /v1/models/{id}/package/{path}: the served package's files with their manifest sha256, and nothing else. */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createApiApp } from '../app.ts';
import { staticRegistry } from '../engine.ts';
import { runnerEngine } from '../runner-engine.ts';
import { StaticTenantStore, openTenant, unlimited } from '../single-tenant.ts';
import { blobStoreSource } from '../package-files.ts';
import { MemoryStore } from '../../model/testing/memory-store.ts';
import { parseManifest, type Manifest } from '../../model/manifest.ts';
import { sha256Hex } from '../../model/loader/sha256.ts';

const DEMO = 'assets/demo-model';
const KEY = 'sk-unmask-package-test';
const LIMITED = 'sk-unmask-limited';

const notLoaded = async (): Promise<never> => {
  throw new Error('the package route never loads the model');
};

describe('model package route', () => {
  const store = new MemoryStore('mem://demo');
  let manifest: Manifest;
  let app: ReturnType<typeof createApiApp>;
  const get = (path: string, key = KEY, headers: Record<string, string> = {}) =>
    app.request(path, { headers: { authorization: `Bearer ${key}`, ...headers } });

  before(async () => {
    for (const name of await readdir(DEMO))
      store.objects.set(name, new Uint8Array(await readFile(join(DEMO, name))));
    manifest = parseManifest(
      JSON.parse(new TextDecoder().decode(store.objects.get('manifest.json'))),
    );
    app = createApiApp({
      engines: staticRegistry([
        runnerEngine({ id: 'unmask-demo', backend: 'node', load: notLoaded }),
        runnerEngine({ id: 'org/pooled', backend: 'gpu-pool', load: notLoaded }),
      ]),
      tenants: new StaticTenantStore({
        [KEY]: openTenant('t1'),
        [LIMITED]: openTenant('t2', { models: ['org/pooled'] }),
      }),
      limiter: unlimited,
      packages: (id) => (id === 'unmask-demo' ? blobStoreSource(store) : undefined),
    });
  });

  test('manifest.json and every file it lists, byte-exact, with the sha256 as ETag and Repr-Digest', async () => {
    const m = await get('/v1/models/unmask-demo/package/manifest.json');
    assert.equal(m.status, 200);
    assert.equal(m.headers.get('content-type'), 'application/json');
    const manifestBytes = new Uint8Array(await m.arrayBuffer());
    assert.deepEqual(manifestBytes, store.objects.get('manifest.json'));
    assert.equal(m.headers.get('etag'), `"${await sha256Hex(manifestBytes)}"`);
    for (const file of manifest.files) {
      const res = await get(`/v1/models/unmask-demo/package/${file.path}`);
      assert.equal(res.status, 200, file.path);
      const bytes = new Uint8Array(await res.arrayBuffer());
      assert.equal(bytes.length, file.bytes);
      assert.equal(await sha256Hex(bytes), file.sha256);
      assert.equal(res.headers.get('etag'), `"${file.sha256}"`);
      assert.equal(res.headers.get('content-length'), String(file.bytes));
      const digest = /^sha-256=:(.+):$/.exec(res.headers.get('repr-digest') ?? '')![1];
      assert.equal(Buffer.from(digest, 'base64').toString('hex'), file.sha256);
    }
  });

  test('If-None-Match with the ETag answers 304 without a body', async () => {
    const file = manifest.files[0];
    const res = await get(`/v1/models/unmask-demo/package/${file.path}`, KEY, {
      'if-none-match': `"${file.sha256}"`,
    });
    assert.equal(res.status, 304);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  test('files outside the manifest, other models, keys without the model: OpenAI-shaped 404s', async () => {
    const code = async (res: Response) =>
      ((await res.json()) as { error: { code: string } }).error.code;
    // quality.png is in the package directory but not in the manifest.
    assert.ok(store.objects.has('quality.png'));
    let res = await get('/v1/models/unmask-demo/package/quality.png');
    assert.equal(res.status, 404);
    assert.equal(await code(res), 'package_file_not_found');
    res = await get('/v1/models/unmask-demo/package/..%2Fsecret');
    assert.equal(res.status, 404);
    res = await get('/v1/models/unmask-demo/package/%E0%A4%A');
    assert.equal(res.status, 404);
    res = await get('/v1/models/unmask-demo/package/manifest.json', LIMITED);
    assert.equal(res.status, 404);
    assert.equal(await code(res), 'model_not_found');
    res = await get('/v1/models/org/pooled/package/manifest.json', LIMITED);
    assert.equal(res.status, 404);
    assert.equal(await code(res), 'package_not_available');
    res = await get('/v1/models/unmask-demo/package/manifest.json', 'sk-unmask-wrong');
    assert.equal(res.status, 401);
    // The model card route still takes ids with slashes.
    res = await get('/v1/models/org/pooled', LIMITED);
    assert.equal(res.status, 200);
  });

  test('a file whose stored size disagrees with the manifest is a 503, never bad bytes', async () => {
    const file = manifest.files.find((f) => f.role === 'tokenizer')!;
    const good = store.objects.get(file.path)!;
    store.objects.set(file.path, good.slice(0, good.length - 1));
    try {
      const res = await get(`/v1/models/unmask-demo/package/${file.path}`);
      assert.equal(res.status, 503);
      assert.equal(
        ((await res.json()) as { error: { code: string } }).error.code,
        'model_unavailable',
      );
    } finally {
      store.objects.set(file.path, good);
    }
  });
});
