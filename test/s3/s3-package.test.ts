/**
 * Model packages through a real S3-compatible server (s3rver, in-process): publish (multipart, idempotent,
 * manifest last), load through the SDK and aws4fetch stores, generate the local tokens, and fail clearly on
 * corrupt, missing and truncated objects without caching anything bad.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { generate } from '../../src/decode/index.ts';
import { loadPackage } from '../../src/model/loader.ts';
import { MANIFEST_FILE, type Manifest } from '../../src/model/manifest.ts';
import { ModelLoadError, type BlobStore } from '../../src/model/store.ts';
import { S3FetchStore } from '../../src/model/stores/s3-fetch-store.ts';
import { DiskCache } from '../../backends/node/stores/disk-cache.ts';
import { createS3Client } from '../../backends/node/stores/s3-client.ts';
import { S3SdkStore } from '../../backends/node/stores/s3-sdk-store.ts';
import { openModel } from '../../backends/node/open-model.ts';
import { wasmOrt } from '../../backends/node/node-ort.ts';
import { createSession } from '../../src/ort/create-session.ts';
import { SessionRunner } from '../../src/ort/session-runner.ts';
import { readLocalManifest } from '../../backends/node/stores/disk-package.ts';
import { publishPackage } from '../../backends/node/publish/publish-package.ts';
import { randomIds, tinyFixture, type Fixture } from '../fixtures/export.ts';
import { S3RVER_CREDENTIALS, startLocalS3, type LocalS3 } from '../fixtures/s3rver.ts';

const PART_SIZE = 64 * 1024;
const FAST = { retry: { baseDelayMs: 1, maxDelayMs: 5 } } as const;

function expectLoadError(code: ModelLoadError['code'], file: string) {
  return (e: unknown) => {
    assert.ok(e instanceof ModelLoadError, String(e));
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(file), `message names ${file}: ${e.message}`);
    return true;
  };
}

describe('model packages in S3 (s3rver)', () => {
  let fx: Fixture;
  let dir: string;
  let manifest: Manifest;
  let s3: LocalS3;
  let client: S3Client;
  const commands: string[] = [];
  const sdkStore = (prefix: string) => new S3SdkStore({ bucket: s3.bucket, prefix, client });
  const fetchStore = (prefix: string, credentials = S3RVER_CREDENTIALS) =>
    new S3FetchStore({ bucket: s3.bucket, prefix, endpoint: s3.endpoint, credentials });
  const publish = (prefix: string) =>
    publishPackage({ dir, client, bucket: s3.bucket, prefix, partSize: PART_SIZE });
  const put = (key: string, body: Uint8Array) =>
    client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
  const sha = (path: string) => manifest.files.find((f) => f.path === path)!.sha256;
  // Asynchronous: s3rver runs in this process, so a blocking spawnSync would deadlock it.
  const cli = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'scripts/publish-model.ts', ...args],
        { env: { ...process.env, ...s3.env, S3_ENDPOINT: '' } },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });

  before(async () => {
    [fx, s3] = await Promise.all([tinyFixture({ seed: 5 }), startLocalS3()]);
    dir = await fx.pkg('pkg', { externalData: 'always' });
    manifest = await readLocalManifest(dir);
    client = createS3Client({ endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
    client.middlewareStack.add(
      (next, context) => (args) => {
        commands.push(context.commandName as string);
        return next(args);
      },
      { step: 'initialize' },
    );
  });
  after(async () => {
    client?.destroy();
    await Promise.all([s3?.stop(), fx?.cleanup()]);
  });

  test('publish uploads every file (multipart above the part size) and the manifest last; re-publishing skips all', async () => {
    commands.length = 0;
    const first = await publish('tiny/v1');
    assert.equal(first.uploaded.at(-1), MANIFEST_FILE);
    assert.deepEqual(
      [...first.uploaded].sort(),
      [MANIFEST_FILE, ...manifest.files.map((f) => f.path)].sort(),
    );
    assert.ok(
      manifest.files.some((f) => f.bytes > PART_SIZE * 4),
      'the weights need several parts',
    );
    assert.ok(commands.filter((c) => c === 'UploadPartCommand').length >= 4);
    assert.equal(
      commands.filter((c) => c === 'CompleteMultipartUploadCommand').length,
      manifest.files.filter((f) => f.bytes > PART_SIZE).length,
    );
    assert.equal(commands.filter((c) => c === 'PutObjectCommand').at(-1), 'PutObjectCommand');
    commands.length = 0;
    const again = await publish('tiny/v1');
    assert.deepEqual(again.uploaded, []);
    assert.equal(again.skipped.length, manifest.files.length + 1);
    assert.deepEqual([...new Set(commands)], ['HeadObjectCommand']);
  });

  test('the SDK and aws4fetch stores load the same verified bytes as the local directory', async () => {
    for (const store of [sdkStore('tiny/v1'), fetchStore('tiny/v1')]) {
      const pkg = await loadPackage(store, { ...FAST, rangeChunkBytes: 100_000, concurrency: 4 });
      assert.deepEqual(pkg.manifest, manifest);
      for (const f of manifest.files)
        assert.deepEqual(
          pkg.files.get(f.path),
          new Uint8Array(await readFile(join(dir, f.path))),
          f.path,
        );
    }
  });

  test('openModel(s3://…) and the Worker session over the aws4fetch load generate the local tokens; the disk cache fills', async () => {
    const cache = new DiskCache({ dir: join(fx.root, 'cache') });
    const remote = await openModel('s3://models/tiny/v1', { env: s3.env, cache });
    // The Worker's path: the in-memory loader over aws4fetch, then an onnxruntime-web session from the bytes.
    const fetched = await loadPackage(fetchStore('tiny/v1'), FAST);
    const { ort } = await wasmOrt();
    const viaFetch = new SessionRunner({
      ort,
      session: await createSession(ort, fetched),
      manifest: fetched.manifest,
    });
    const local = await openModel(dir);
    const ids = randomIds(7, manifest.tokens.vocab_size - 8, 11);
    const opts = { maxTokens: 24, blockLength: 8, threshold: 0.7 };
    const expected = (await generate(local.runner, ids, opts)).tokens;
    assert.deepEqual((await generate(remote.runner, ids, opts)).tokens, expected);
    assert.deepEqual((await generate(viaFetch, ids, opts)).tokens, expected);
    assert.deepEqual(
      (await cache.entries()).map((e) => e.sha256).sort(),
      manifest.files.map((f) => f.sha256).sort(),
    );
  });

  test('a corrupt object → checksum error naming it, and the cache never holds it', async () => {
    await publish('corrupt');
    const bad = new Uint8Array(await readFile(join(dir, 'model.onnx.data')));
    bad[bad.length >> 1] ^= 0x01;
    await put('corrupt/model.onnx.data', bad);
    const cache = new DiskCache({ dir: join(fx.root, 'cache-corrupt') });
    for (const store of [sdkStore('corrupt'), fetchStore('corrupt')]) {
      await assert.rejects(
        loadPackage(store, { ...FAST, cache, rangeChunkBytes: 128 * 1024 }),
        expectLoadError('checksum', 'model.onnx.data'),
      );
    }
    assert.equal(await cache.get(sha('model.onnx.data')), null);
  });

  test('a truncated object → truncated; a deleted object → missing; neither is cached', async () => {
    await publish('broken');
    const weights = new Uint8Array(await readFile(join(dir, 'model.onnx.data')));
    await put('broken/model.onnx.data', weights.subarray(0, weights.length - 1000));
    const truncatedCache = new DiskCache({ dir: join(fx.root, 'cache-truncated') });
    for (const store of [sdkStore('broken'), fetchStore('broken')]) {
      // Ranged (HEAD size check) and whole-object paths.
      await assert.rejects(
        loadPackage(store, { ...FAST, cache: truncatedCache, rangeChunkBytes: 128 * 1024 }),
        expectLoadError('truncated', 'model.onnx.data'),
      );
      await assert.rejects(
        loadPackage(store, { ...FAST, cache: truncatedCache }),
        expectLoadError('truncated', 'model.onnx.data'),
      );
    }
    assert.equal(await truncatedCache.get(sha('model.onnx.data')), null);
    await put('broken/model.onnx.data', weights);
    await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: 'broken/tokenizer.json' }));
    const missingCache = new DiskCache({ dir: join(fx.root, 'cache-missing') });
    for (const store of [sdkStore('broken'), fetchStore('broken')]) {
      await assert.rejects(
        loadPackage(store, { ...FAST, cache: missingCache }),
        expectLoadError('missing', 'tokenizer.json'),
      );
    }
    assert.equal(await missingCache.get(sha('tokenizer.json')), null);
  });

  test('budget, unknown format_version, missing package and bad credentials fail before any file download', async () => {
    await assert.rejects(
      loadPackage(sdkStore('tiny/v1'), { ...FAST, memoryBudgetBytes: 4096 }),
      (e: unknown) => {
        const total = manifest.files.reduce((s, f) => s + f.bytes, 0);
        return (
          e instanceof ModelLoadError &&
          e.code === 'budget' &&
          e.message.includes(String(total)) &&
          e.message.includes('4096')
        );
      },
    );
    const future = { ...manifest, format_version: 99 };
    await put('future/manifest.json', new TextEncoder().encode(JSON.stringify(future)));
    await assert.rejects(
      loadPackage(fetchStore('future'), FAST),
      expectLoadError('format', 'format_version 99'),
    );
    await assert.rejects(
      loadPackage(sdkStore('nothing/here'), FAST),
      expectLoadError('missing', 's3://models/nothing/here'),
    );
    const secret = 'not-the-secret-value';
    await assert.rejects(
      loadPackage(
        fetchStore('tiny/v1', { accessKeyId: 'WRONGKEY', secretAccessKey: secret }),
        FAST,
      ),
      (e: unknown) => {
        assert.ok(
          e instanceof ModelLoadError && e.code === 'missing' && /access denied/.test(e.message),
          String(e),
        );
        assert.ok(!e.message.includes(secret));
        return true;
      },
    );
  });

  test('transient failures are retried: a store failing twice still loads', async () => {
    const inner = sdkStore('tiny/v1');
    let failures = 0;
    const flaky: BlobStore = {
      location: inner.location,
      get: async (key, range) => {
        if (failures < 2) {
          failures++;
          throw new ModelLoadError('transient', 'HTTP 503 SlowDown');
        }
        return inner.get(key, range);
      },
      head: (key) => inner.head(key),
    };
    const pkg = await loadPackage(flaky, FAST);
    assert.equal(failures, 2);
    assert.equal(pkg.files.size, manifest.files.length);
  });

  test('the publish-model CLI uploads; a failed publish names the problem', async () => {
    const ok = await cli([
      dir,
      's3://models/cli/pkg',
      '--endpoint',
      s3.endpoint,
      '--part-size',
      '64KiB',
      '--concurrency',
      '2',
    ]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /published s3:\/\/models\/cli\/pkg: uploaded \d+ files/);
    assert.ok(await loadPackage(fetchStore('cli/pkg'), FAST));
    await assert.rejects(
      publishPackage({ dir, client, bucket: 'no-such-bucket', prefix: 'pkg', retries: 0 }),
      /NoSuchBucket|does not exist/,
    );
  });
});
