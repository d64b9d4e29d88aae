/** The browser's package loader over the API's package route: the verified loader, end to end, in process. */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createApiApp } from '../api/app.ts';
import { staticRegistry } from '../api/engine.ts';
import { runnerEngine } from '../api/runner-engine.ts';
import { StaticTenantStore, openTenant, unlimited } from '../api/single-tenant.ts';
import { blobStoreSource } from '../api/package-files.ts';
import { loadPackage } from '../model/loader.ts';
import { ModelLoadError } from '../model/store.ts';
import { MemoryStore } from '../model/testing/memory-store.ts';
import { HttpPackageStore } from './http-store.ts';

const KEY = 'sk-unmask-http-store';

describe('HttpPackageStore', () => {
  const store = new MemoryStore('mem://demo');
  let fetchApp: typeof fetch;

  before(async () => {
    for (const name of await readdir('assets/demo-model'))
      store.objects.set(name, new Uint8Array(await readFile(join('assets/demo-model', name))));
    const app = createApiApp({
      engines: staticRegistry([
        runnerEngine({
          id: 'unmask-demo',
          backend: 'node',
          load: () => Promise.reject(new Error('not loaded here')),
        }),
      ]),
      tenants: new StaticTenantStore({ [KEY]: openTenant('t') }),
      limiter: unlimited,
      packages: () => blobStoreSource(store),
    });
    fetchApp = (input, init) => Promise.resolve(app.fetch(new Request(input as string, init)));
  });

  test('loads the package through the route, every file verified, whole or in ranges', async () => {
    for (const rangeChunkBytes of [2 ** 31 - 1, 1 << 20]) {
      const http = new HttpPackageStore('http://unmask.test', 'unmask-demo', KEY, fetchApp);
      const pkg = await loadPackage(http, { rangeChunkBytes });
      assert.equal(pkg.manifest.name, 'unmask-demo');
      for (const f of pkg.manifest.files)
        assert.deepEqual(pkg.files.get(f.path), store.objects.get(f.path), f.path);
    }
  });

  test('a tampered file fails the sha256 check; a wrong key is not a missing package', async () => {
    const path = 'tokenizer.json';
    const good = store.objects.get(path)!;
    const bad = good.slice();
    bad[10] ^= 1;
    store.objects.set(path, bad);
    try {
      const http = new HttpPackageStore('http://unmask.test', 'unmask-demo', KEY, fetchApp);
      await assert.rejects(
        loadPackage(http, { retries: 0 }),
        (e: unknown) => e instanceof ModelLoadError && e.code === 'checksum',
      );
    } finally {
      store.objects.set(path, good);
    }
    const wrongKey = new HttpPackageStore('http://unmask.test', 'unmask-demo', 'sk-no', fetchApp);
    await assert.rejects(loadPackage(wrongKey, { retries: 0 }), /401/);
  });
});
