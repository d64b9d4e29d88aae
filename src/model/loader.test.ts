/** loadPackage over an in-memory store: verification, budget, ranged GETs, retries and cache rules. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPackage } from './loader.ts';
import { MANIFEST_FILE } from './manifest.ts';
import { ModelLoadError, type BlobStore } from './store.ts';
import {
  MemoryCache,
  MemoryStore,
  makeManifest,
  memoryPackage,
  patternBytes,
} from './testing/memory-store.ts';
import { createConcurrencyLimit } from './loader/concurrency.ts';
import { backoffDelay, withRetry } from './loader/retry.ts';

const FAST_RETRY = { baseDelayMs: 1, maxDelayMs: 2 };
const FILES = () => ({
  'model.onnx': patternBytes(1000, 1),
  'tokenizer.json': patternBytes(40, 2),
  'tokenizer_config.json': patternBytes(20, 3),
});

async function rejects(
  p: Promise<unknown>,
  code: ModelLoadError['code'],
  message: RegExp,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ModelLoadError, `expected ModelLoadError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

/** Fails the first `failures` requests with a transient error, then delegates. */
function flaky(store: BlobStore, failures: number): BlobStore & { failed: number } {
  const wrapper = {
    location: store.location,
    failed: 0,
    get: (key: string, range?: { offset: number; length: number }) =>
      wrapper.failed < failures ? fail() : store.get(key, range),
    head: (key: string) => (wrapper.failed < failures ? fail() : store.head(key)),
  };
  const fail = async (): Promise<never> => {
    wrapper.failed++;
    throw new ModelLoadError('transient', 'HTTP 503 SlowDown');
  };
  return wrapper;
}

describe('loadPackage', () => {
  test('loads every file; files above the chunk size go as parallel ranged GETs', async () => {
    const files = FILES();
    const { store, manifest } = await memoryPackage(files);
    const seen: number[] = [];
    const pkg = await loadPackage(store, {
      rangeChunkBytes: 300,
      onProgress: (done, total) => {
        seen.push(done);
        assert.equal(total, 1060);
      },
    });
    assert.deepEqual(pkg.manifest, manifest);
    for (const [path, bytes] of Object.entries(files)) assert.deepEqual(pkg.files.get(path), bytes);
    assert.deepEqual(store.calls.filter((c) => c.startsWith('get model.onnx')).sort(), [
      'get model.onnx 0+300',
      'get model.onnx 300+300',
      'get model.onnx 600+300',
      'get model.onnx 900+100',
    ]);
    assert.ok(store.calls.includes('head model.onnx'));
    assert.equal(seen.at(-1), 1060);
  });

  test('no manifest → missing, naming the location; bad JSON and unknown format_version → format', async () => {
    await rejects(
      loadPackage(new MemoryStore('mem://empty'), {}),
      'missing',
      /manifest\.json.*mem:\/\/empty/,
    );
    const { store } = await memoryPackage(FILES());
    store.objects.set(MANIFEST_FILE, new TextEncoder().encode('{"format": '));
    await rejects(loadPackage(store, {}), 'format', /not valid JSON/);
    const manifest = await makeManifest(FILES(), { format_version: 99 });
    store.objects.set(MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(manifest)));
    await rejects(loadPackage(store, {}), 'format', /format_version 99/);
  });

  test('a manifest path that leaves the package is a format error', async () => {
    const { store } = await memoryPackage(FILES());
    const manifest = await makeManifest({ '../escape.onnx': patternBytes(4) });
    store.objects.set(MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(manifest)));
    await rejects(loadPackage(store, {}), 'format', /escape\.onnx.*leaves the package/);
  });

  test('the memory budget is checked before any file is downloaded', async () => {
    const { store } = await memoryPackage(FILES());
    await rejects(
      loadPackage(store, { memoryBudgetBytes: 1000 }),
      'budget',
      /1060 bytes.*1000 bytes/,
    );
    assert.deepEqual(store.calls, [`get ${MANIFEST_FILE}`]);
  });

  test('size and sha256 are verified per file, and bad bytes never reach the cache', async () => {
    const files = FILES();
    const { store } = await memoryPackage(files);
    const cache = new MemoryCache();
    const corrupt = files['model.onnx'].slice();
    corrupt[500] ^= 1;
    store.objects.set('model.onnx', corrupt);
    await rejects(
      loadPackage(store, { cache, rangeChunkBytes: 256 }),
      'checksum',
      /model\.onnx.*corrupt/,
    );
    const { manifest } = await memoryPackage(files);
    const sha = (path: string) => manifest.files.find((f) => f.path === path)!.sha256;
    assert.equal(cache.entries.has(sha('model.onnx')), false);
    store.objects.set('model.onnx', files['model.onnx'].slice(0, 999));
    await rejects(
      loadPackage(store, { cache, rangeChunkBytes: 256 }),
      'truncated',
      /model\.onnx.*999 bytes.*1000/,
    );
    await rejects(loadPackage(store, { cache }), 'truncated', /model\.onnx/);
    const fresh = new MemoryCache();
    store.objects.delete('tokenizer.json');
    store.objects.set('model.onnx', files['model.onnx']);
    await rejects(loadPackage(store, { cache: fresh }), 'missing', /tokenizer\.json.*missing/);
    assert.equal(fresh.entries.has(sha('tokenizer.json')), false);
  });

  test('cache hits skip the store; a corrupt cache entry is refetched and replaced', async () => {
    const files = FILES();
    const { store, manifest } = await memoryPackage(files);
    const cache = new MemoryCache();
    await loadPackage(store, { cache });
    assert.equal(cache.entries.size, 3);
    store.calls.length = 0;
    const graph = manifest.files.find((f) => f.path === 'model.onnx')!;
    cache.entries.get(graph.sha256)![0] ^= 0xff;
    const pkg = await loadPackage(store, { cache });
    assert.deepEqual(store.calls, [`get ${MANIFEST_FILE}`, 'get model.onnx']);
    assert.deepEqual(pkg.files.get('model.onnx'), files['model.onnx']);
    assert.deepEqual(cache.entries.get(graph.sha256), files['model.onnx']);
  });

  test('transient errors are retried with backoff; other errors and exhausted retries are not hidden', async () => {
    const { store } = await memoryPackage(FILES());
    const twice = flaky(store, 2);
    const pkg = await loadPackage(twice, { retry: FAST_RETRY });
    assert.equal(twice.failed, 2);
    assert.equal(pkg.files.size, 3);
    await rejects(
      loadPackage(flaky(store, 5), { retries: 2, retry: FAST_RETRY }),
      'transient',
      /503/,
    );
    let calls = 0;
    const denied: BlobStore = {
      location: 'mem://denied',
      get: async () => {
        calls++;
        throw new ModelLoadError('missing', 'access denied');
      },
      head: async () => null,
    };
    await rejects(loadPackage(denied, { retry: FAST_RETRY }), 'missing', /access denied/);
    assert.equal(calls, 1);
  });

  test('no hidden state: every load reads the store and hands out its own bytes', async () => {
    const { store } = await memoryPackage(FILES(), 'mem://again');
    const a = await loadPackage(store);
    const b = await loadPackage(store);
    assert.notEqual(a.files, b.files);
    assert.equal(store.calls.filter((c) => c === `get ${MANIFEST_FILE}`).length, 2);
  });
});

describe('loader helpers', () => {
  test('the limiter never runs more than n tasks at once', async () => {
    const limit = createConcurrencyLimit(3);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limit(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, i % 3));
          active--;
        }),
      ),
    );
    assert.equal(peak, 3);
  });

  test('backoff grows exponentially within its cap, with jitter', async () => {
    for (let attempt = 1; attempt <= 8; attempt++) {
      const ceiling = Math.min(5000, 200 * 2 ** (attempt - 1));
      const d = backoffDelay(attempt);
      assert.ok(d >= ceiling / 2 && d <= ceiling, `attempt ${attempt}: ${d}`);
    }
    let n = 0;
    assert.equal(
      await withRetry(async () => {
        if (++n < 3) throw new ModelLoadError('transient', 'x');
        return n;
      }, FAST_RETRY),
      3,
    );
  });
});
