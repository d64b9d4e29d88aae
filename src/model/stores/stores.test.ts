/** s3:// locations, the R2 binding store (with a fake binding) and the S3 HTTP error mapping. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatS3Location, objectKey, parseS3Location } from './parse-location.ts';
import { R2Store, type R2BucketLike } from './r2-store.ts';
import { httpLoadError, s3ErrorCode } from './http-errors.ts';
import { S3FetchStore, defaultRegion } from './s3-fetch-store.ts';
import { ModelLoadError } from '../store.ts';

describe('S3 locations', () => {
  test('parses bucket and prefix, normalizing slashes', () => {
    assert.deepEqual(parseS3Location('s3://models'), { bucket: 'models', prefix: '' });
    assert.deepEqual(parseS3Location('s3://models/'), { bucket: 'models', prefix: '' });
    assert.deepEqual(parseS3Location('s3://models//llada2/mini/'), {
      bucket: 'models',
      prefix: 'llada2/mini',
    });
    assert.equal(formatS3Location(parseS3Location('s3://models/a/b/')), 's3://models/a/b');
    assert.equal(objectKey('a/b', 'model.onnx'), 'a/b/model.onnx');
    assert.equal(objectKey('', 'model.onnx'), 'model.onnx');
  });

  test('rejects other schemes, bad buckets and dot segments', () => {
    assert.throws(() => parseS3Location('/tmp/pkg'), /s3:\/\/bucket\/prefix/);
    assert.throws(() => parseS3Location('s3://'), /invalid bucket/);
    assert.throws(() => parseS3Location('s3://a b/x'), /invalid bucket/);
    assert.throws(() => parseS3Location('s3://models/../x'), /"\.\."/);
  });
});

describe('R2Store', () => {
  const objects = new Map([['tiny/model.onnx', new Uint8Array([1, 2, 3, 4, 5])]]);
  const binding: R2BucketLike = {
    async get(key, options) {
      const bytes = objects.get(key);
      if (!bytes) return null;
      if (options?.range && options.range.offset >= bytes.length)
        throw new Error('get: The requested range is not satisfiable (10039)');
      const body = options?.range
        ? bytes.slice(options.range.offset, options.range.offset + options.range.length)
        : bytes;
      return { size: bytes.length, arrayBuffer: async () => body.slice().buffer };
    },
    async head(key) {
      const bytes = objects.get(key);
      return bytes ? { size: bytes.length } : null;
    },
  };

  test('reads whole objects and ranges under the prefix; missing → null', async () => {
    const store = new R2Store(binding, { prefix: '/tiny/', bucketName: 'models' });
    assert.equal(store.location, 'r2://models/tiny');
    assert.deepEqual(await store.get('model.onnx'), new Uint8Array([1, 2, 3, 4, 5]));
    assert.deepEqual(
      await store.get('model.onnx', { offset: 1, length: 3 }),
      new Uint8Array([2, 3, 4]),
    );
    assert.deepEqual(await store.head('model.onnx'), { size: 5 });
    assert.equal(await store.get('nope'), null);
    assert.equal(await store.head('nope'), null);
  });

  test('binding errors become ModelLoadErrors: bad ranges are permanent, the rest transient', async () => {
    const store = new R2Store(binding, { prefix: 'tiny' });
    await assert.rejects(
      store.get('model.onnx', { offset: 9, length: 1 }),
      (e: unknown) => e instanceof ModelLoadError && e.code === 'truncated',
    );
    const broken = new R2Store({
      get: async () => {
        throw new Error('internal error');
      },
      head: async () => null,
    });
    await assert.rejects(
      broken.get('x'),
      (e: unknown) =>
        e instanceof ModelLoadError && e.code === 'transient' && /internal error/.test(e.message),
    );
  });
});

describe('S3 HTTP errors', () => {
  test('status → code, with the S3 error code but never the body', () => {
    assert.equal(httpLoadError(503, 's3://b/k', 'SlowDown').code, 'transient');
    assert.equal(httpLoadError(429, 's3://b/k').code, 'transient');
    assert.match(
      httpLoadError(403, 's3://b/k', 'AccessDenied').message,
      /s3:\/\/b\/k: access denied \(HTTP 403 AccessDenied\)/,
    );
    assert.equal(httpLoadError(416, 's3://b/k').code, 'truncated');
    assert.match(httpLoadError(404, 's3://b/k', 'NoSuchBucket').message, /bucket does not exist/);
    assert.equal(
      s3ErrorCode(
        '<Error><Code>SignatureDoesNotMatch</Code><StringToSign>secret-ish</StringToSign></Error>',
      ),
      'SignatureDoesNotMatch',
    );
  });

  test('region defaults to auto for R2 endpoints', () => {
    assert.equal(defaultRegion('https://acct.r2.cloudflarestorage.com'), 'auto');
    assert.equal(defaultRegion('http://127.0.0.1:9000'), 'us-east-1');
    assert.equal(defaultRegion(undefined), 'us-east-1');
  });

  test('the fetch store builds path-style URLs for custom endpoints and maps statuses', async () => {
    const urls: string[] = [];
    const fetch = async (input: RequestInfo | URL) => {
      const req = input as Request;
      urls.push(`${req.method} ${req.url} ${req.headers.get('range') ?? ''}`.trim());
      if (req.url.endsWith('/missing'))
        return new Response('<Error><Code>NoSuchKey</Code></Error>', { status: 404 });
      if (req.url.endsWith('/busy'))
        return new Response('<Error><Code>SlowDown</Code></Error>', { status: 503 });
      if (req.headers.get('range')) return new Response(new Uint8Array([7, 8]), { status: 206 });
      return new Response(new Uint8Array([1, 2, 3]), {
        status: 200,
        headers: { 'content-length': '3' },
      });
    };
    const store = new S3FetchStore({
      endpoint: 'http://s3.test:9000/',
      bucket: 'models',
      prefix: 'tiny',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'hunter2' },
      fetch,
    });
    assert.deepEqual(await store.get('model.onnx'), new Uint8Array([1, 2, 3]));
    assert.deepEqual(
      await store.get('model.onnx', { offset: 4, length: 2 }),
      new Uint8Array([7, 8]),
    );
    assert.deepEqual(await store.head('model.onnx'), { size: 3 });
    assert.equal(await store.get('missing'), null);
    await assert.rejects(
      store.get('busy'),
      (e: unknown) =>
        e instanceof ModelLoadError && e.code === 'transient' && !e.message.includes('hunter2'),
    );
    assert.deepEqual(urls.slice(0, 3), [
      'GET http://s3.test:9000/models/tiny/model.onnx',
      'GET http://s3.test:9000/models/tiny/model.onnx bytes=4-5',
      'HEAD http://s3.test:9000/models/tiny/model.onnx',
    ]);
    const aws = new S3FetchStore({ bucket: 'models', region: 'eu-west-1', fetch });
    await aws.get('x');
    assert.equal(urls.at(-1), 'GET https://models.s3.eu-west-1.amazonaws.com/x');
  });
});
