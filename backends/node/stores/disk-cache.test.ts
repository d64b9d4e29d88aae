/** DiskCache (atomic writes, LRU eviction under a byte bound) and FsStore (ranged reads, no escapes). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskCache, defaultCacheDir } from './disk-cache.ts';
import { LEASES_DIR } from './cache-leases.ts';
import { FsStore } from './fs-store.ts';
import { sha256Hex } from '../../../src/model/loader/sha256.ts';
import { ModelLoadError } from '../../../src/model/store.ts';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('DiskCache', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'unmask-cache-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('round-trips files by sha256, atomically (no temp files left)', async () => {
    const cache = new DiskCache({ dir: join(root, 'a'), maxBytes: 1000 });
    const data = bytes(100, 7);
    const sha = await sha256Hex(data);
    assert.equal(await cache.get(sha), null);
    await cache.put(sha, data);
    await cache.put(sha, data); // idempotent
    assert.deepEqual(await cache.get(sha), data);
    assert.deepEqual(await readdir(cache.dir), [sha]);
    assert.equal(await cache.get('../../etc/passwd'), null);
    await assert.rejects(cache.put('not-a-sha', data), /not a sha256/);
  });

  test('evicts least-recently-used files past its bound, never the one just written', async () => {
    const cache = new DiskCache({ dir: join(root, 'b'), maxBytes: 250 });
    const shas: string[] = [];
    for (let i = 0; i < 3; i++) {
      const data = bytes(100, i);
      shas.push(await sha256Hex(data));
      await cache.put(shas[i], data);
      // Distinct, ordered use times (mtime resolution varies by filesystem).
      const t = new Date(Date.now() - (10 - i) * 60_000);
      await utimes(join(cache.dir, shas[i]), t, t);
    }
    // 300 bytes > 250: the third put evicted the oldest (0).
    assert.deepEqual(
      (await cache.entries()).map((e) => e.sha256),
      [shas[1], shas[2]],
    );
    await cache.get(shas[1]); // now 2 is the least recently used
    const big = bytes(150, 9);
    const bigSha = await sha256Hex(big);
    await cache.put(bigSha, big);
    const left = (await cache.entries()).map((e) => e.sha256).sort();
    assert.deepEqual(left, [shas[1], bigSha].sort());
    await cache.put(await sha256Hex(bytes(300, 1)), bytes(300, 1)); // larger than the bound: not cached
    assert.equal((await cache.entries()).length, 2);
    assert.ok((await readdir(cache.dir)).every((n) => !n.startsWith('.tmp-')));
  });

  test('removes stale temp files of crashed writers; settings come from the environment', async () => {
    const cache = new DiskCache({
      env: { UNMASK_CACHE_DIR: join(root, 'c'), UNMASK_CACHE_MAX_BYTES: '500' },
    });
    assert.equal(cache.dir, join(root, 'c'));
    assert.equal(cache.maxBytes, 500);
    const data = bytes(10, 3);
    await cache.put(await sha256Hex(data), data);
    const stale = join(cache.dir, `.tmp-${'0'.repeat(64)}-1-x`);
    await writeFile(stale, 'partial');
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(stale, old, old);
    await cache.evict();
    assert.deepEqual(await readdir(cache.dir), [await sha256Hex(data)]);
    assert.equal(defaultCacheDir({ HOME: '/h', XDG_CACHE_HOME: '/x' }), '/x/unmask');
    assert.throws(
      () => new DiskCache({ env: { UNMASK_CACHE_MAX_BYTES: 'lots' } }),
      /UNMASK_CACHE_MAX_BYTES/,
    );
  });
  test('eviction skips files under a live lease, of this process or another; dead leases lapse', async () => {
    const cache = new DiskCache({ dir: join(root, 'd'), maxBytes: 250 });
    const shas: string[] = [];
    for (let i = 0; i < 2; i++) {
      shas.push(await sha256Hex(bytes(100, 10 + i)));
      await cache.put(shas[i], bytes(100, 10 + i));
    }
    const lease = await cache.lease([shas[0]]);
    // A package of another process (alive: the test runner's parent) holds file 1.
    await writeFile(
      join(cache.dir, LEASES_DIR, 'other.json'),
      JSON.stringify({ host: hostname(), pid: process.ppid, sha256s: [shas[1]] }),
    );
    // A lease of a process that is gone holds nothing.
    await writeFile(
      join(cache.dir, LEASES_DIR, 'dead.json'),
      JSON.stringify({ host: hostname(), pid: 2 ** 22 + 7, sha256s: ['f'.repeat(64)] }),
    );
    const third = await sha256Hex(bytes(100, 12));
    await cache.put(third, bytes(100, 12)); // 300 > 250: something must go, but both old files are leased
    assert.deepEqual((await cache.entries()).map((e) => e.sha256).sort(), [...shas, third].sort());
    assert.deepEqual(
      (await readdir(join(cache.dir, LEASES_DIR))).sort().length,
      2,
      'dead lease removed',
    );
    await lease.release();
    await cache.evict(third);
    assert.deepEqual(
      (await cache.entries()).map((e) => e.sha256).sort(),
      [shas[1], third].sort(),
      'released: the least recently used file goes',
    );
  });
});

describe('FsStore', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'unmask-fs-'));
    await writeFile(
      join(dir, 'model.onnx'),
      Uint8Array.from({ length: 10 }, (_, i) => i),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('whole and ranged reads, sizes, missing files, and no escape from the directory', async () => {
    const store = new FsStore(dir);
    assert.deepEqual(
      await store.get('model.onnx'),
      Uint8Array.from({ length: 10 }, (_, i) => i),
    );
    assert.deepEqual(
      await store.get('model.onnx', { offset: 3, length: 4 }),
      new Uint8Array([3, 4, 5, 6]),
    );
    assert.deepEqual(
      await store.get('model.onnx', { offset: 8, length: 4 }),
      new Uint8Array([8, 9]),
      'short read past EOF',
    );
    assert.deepEqual(await store.head('model.onnx'), { size: 10 });
    assert.equal(await store.get('nope.bin'), null);
    assert.equal(await store.head('nope.bin'), null);
    await assert.rejects(
      store.get('../outside'),
      (e: unknown) => e instanceof ModelLoadError && e.code === 'format',
    );
  });
});
