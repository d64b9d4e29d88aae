/**
 * Packages on disk for onnxruntime-node (backends/node/stores/disk-package.ts) through a real S3 server (s3rver):
 * ranged downloads written at their offsets, verified by a streamed sha256, linked under their package paths with
 * external data next to the graph; the second load downloads nothing; corrupt or truncated objects never enter the
 * cache; a local directory is verified in place. openModel over it gives the local package's tokens.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { generate } from '../../src/decode/index.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { ModelLoadError, type BlobStore } from '../../src/model/store.ts';
import { DiskCache } from '../../backends/node/stores/disk-cache.ts';
import {
  diskPackage,
  readLocalManifest,
  sha256File,
} from '../../backends/node/stores/disk-package.ts';
import { FsStore } from '../../backends/node/stores/fs-store.ts';
import { createS3Client } from '../../backends/node/stores/s3-client.ts';
import { S3SdkStore } from '../../backends/node/stores/s3-sdk-store.ts';
import { openModel } from '../../backends/node/open-model.ts';
import { publishPackage } from '../../backends/node/publish/publish-package.ts';
import { randomIds, tinyFixture, type Fixture } from '../fixtures/export.ts';
import { S3RVER_CREDENTIALS, startLocalS3, type LocalS3 } from '../fixtures/s3rver.ts';

const CHUNK = 16 * 1024;
const FAST = { rangeChunkBytes: CHUNK, retry: { baseDelayMs: 1, maxDelayMs: 5 } } as const;

/** Counts the byte ranges a store serves. */
function counting(store: BlobStore): BlobStore & { gets: number } {
  const wrapped = {
    gets: 0,
    location: store.location,
    head: (key: string) => store.head(key),
    get: (key: string, range?: { offset: number; length: number }) => {
      wrapped.gets++;
      return store.get(key, range);
    },
  };
  return wrapped;
}

describe('model packages on disk (ranged downloads into the disk cache)', () => {
  let fx: Fixture;
  let dir: string;
  let manifest: Manifest;
  let s3: LocalS3;
  let client: S3Client;
  const temps: string[] = [];
  const cacheDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'unmask-diskpkg-'));
    temps.push(d);
    return d;
  };
  const store = (prefix: string) => new S3SdkStore({ bucket: s3.bucket, prefix, client });

  before(async () => {
    [fx, s3] = await Promise.all([tinyFixture({ seed: 9 }), startLocalS3()]);
    dir = await fx.pkg('pkg', { externalData: 'always' });
    manifest = await readLocalManifest(dir);
    client = createS3Client({ endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
    await publishPackage({ dir, client, bucket: s3.bucket, prefix: 'tiny', partSize: 64 * 1024 });
  });
  after(async () => {
    client?.destroy();
    await Promise.all([
      s3?.stop(),
      fx?.cleanup(),
      ...temps.map((d) => rm(d, { recursive: true, force: true })),
    ]);
  });

  test('every file lands under its package path, byte for byte, from many ranged GETs; the second load downloads nothing', async () => {
    assert.ok(manifest.graph.external_data.length > 0, 'the fixture has external weights');
    const cache = new DiskCache({ dir: await cacheDir() });
    const s = counting(store('tiny'));
    const progress: number[] = [];
    const pkg = await diskPackage(s, { cache, ...FAST, onProgress: (done) => progress.push(done) });
    const total = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
    assert.equal(pkg.downloadedBytes, total);
    assert.equal(progress.at(-1), total);
    const weights = manifest.files.find((f) => f.path === manifest.graph.external_data[0])!;
    assert.ok(
      s.gets >= Math.ceil(weights.bytes / CHUNK),
      `${s.gets} GETs for a ${weights.bytes}-byte file in ${CHUNK}-byte ranges`,
    );
    for (const f of manifest.files) {
      assert.ok(
        (await lstat(join(pkg.dir, f.path))).isSymbolicLink(),
        `${f.path} links into the cache`,
      );
      assert.ok(
        !isAbsolute(await readlink(join(pkg.dir, f.path))),
        'relative links: the cache may be mounted elsewhere',
      );
      assert.deepEqual(await readFile(join(pkg.dir, f.path)), await readFile(join(dir, f.path)));
    }
    const again = counting(store('tiny'));
    const second = await diskPackage(again, { cache, ...FAST });
    assert.equal(second.downloadedBytes, 0);
    assert.equal(second.dir, pkg.dir);
    assert.equal(again.gets, 1, 'only the manifest is read');
  });

  test('a corrupt object is a checksum error naming it; nothing of it stays in the cache; a damaged cache entry is refetched', async () => {
    const cacheRoot = await cacheDir();
    const cache = new DiskCache({ dir: cacheRoot });
    await publishPackage({
      dir,
      client,
      bucket: s3.bucket,
      prefix: 'corrupt',
      partSize: 64 * 1024,
    });
    const weightsPath = manifest.graph.external_data[0];
    const good = await readFile(join(dir, weightsPath));
    const bad = new Uint8Array(good);
    bad[bad.length - 1] ^= 0xff;
    await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: `corrupt/${weightsPath}`, Body: bad }),
    );
    await assert.rejects(
      diskPackage(store('corrupt'), { cache, ...FAST }),
      (e: unknown) =>
        e instanceof ModelLoadError && e.code === 'checksum' && e.message.includes(weightsPath),
    );
    const sha = manifest.files.find((f) => f.path === weightsPath)!.sha256;
    const left = await readdir(cacheRoot);
    assert.ok(
      !left.includes(sha) && !left.some((n) => n.startsWith('.tmp-')),
      `cache holds ${left.join(', ')}`,
    );

    const pkg = await diskPackage(store('tiny'), { cache, ...FAST });
    await writeFile(join(cacheRoot, sha), bad); // bit rot in the cache
    const healed = await diskPackage(store('tiny'), { cache, ...FAST });
    assert.equal(healed.downloadedBytes, good.length);
    assert.equal(await sha256File(join(pkg.dir, weightsPath)), sha);
  });

  test("a package in use keeps its cache files through another load's eviction until released", async () => {
    // maxBytes 1: every eviction wants every file gone.
    const cache = new DiskCache({ dir: await cacheDir(), maxBytes: 1 });
    const pkg = await diskPackage(store('tiny'), { cache, ...FAST });
    await cache.evict(); // what a second package loading into this cache does when it finishes
    const names = new Set((await cache.entries()).map((e) => e.sha256));
    for (const f of manifest.files) assert.ok(names.has(f.sha256), `${f.path} was evicted in use`);
    await pkg.release();
    await cache.evict();
    assert.deepEqual(await cache.entries(), []);
  });

  test('a local directory is verified in place; a damaged local file is refused', async () => {
    const pkg = await diskPackage(new FsStore(dir));
    assert.equal(pkg.dir, dir);
    assert.equal(pkg.downloadedBytes, 0);
    const copy = await cacheDir();
    for (const f of [...manifest.files.map((x) => x.path), 'manifest.json'])
      await writeFile(join(copy, f), await readFile(join(dir, f)));
    await writeFile(join(copy, manifest.graph.file), 'not a graph');
    await assert.rejects(
      diskPackage(new FsStore(copy)),
      (e: unknown) => e instanceof ModelLoadError && e.code === 'truncated',
    );
  });

  test("openModel(s3://…) runs the session from disk and generates the local package's tokens", async () => {
    const env = { ...s3.env, UNMASK_CACHE_DIR: await cacheDir() };
    const model = await openModel(`s3://${s3.bucket}/tiny`, {
      env,
      providers: ['cpu'],
      threads: 1,
    });
    assert.equal(model.provider, 'cpu');
    assert.ok(model.dir.startsWith(env.UNMASK_CACHE_DIR), model.dir);
    assert.deepEqual(
      [...model.files.keys()].sort(),
      [manifest.tokenizer.file, manifest.tokenizer.config_file].sort(),
      'only the tokenizer is held in memory',
    );
    const local = await openModel(dir);
    assert.equal(local.dir, dir, 'a local package is used in place');
    const prompt = randomIds(11, local.runner.info.vocabSize - 8, 4);
    const want = await generate(local.runner, prompt, { maxTokens: 24, threshold: 0.8 });
    const got = await generate(model.runner, prompt, { maxTokens: 24, threshold: 0.8 });
    assert.deepEqual(got.tokens, want.tokens);
    await Promise.all([model.session.release(), local.session.release()]);
  });
});
