/**
 * WasmEngine in Node with onnxruntime-web and the same instantiate redirect workerd uses: one shared load for
 * concurrent callers, a failed load retried by the next call, both int4 layouts (session_config applied), and
 * the wasm heap read back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as ortWeb from 'onnxruntime-web/wasm';
import { generate } from '../../src/decode/index.ts';
import { loadPackage } from '../../src/model/loader.ts';
import type { BlobStore, ByteRange } from '../../src/model/store.ts';
import { openModel } from '../node/open-model.ts';
import { randomIds, tinyFixture, type Fixture } from '../../test/fixtures/export.ts';
import { configureOrtWasm, type OrtWasm } from './ort-wasm.ts';
import { WasmEngine } from './wasm-engine.ts';

/** A package dir as a BlobStore; `failures` makes the next N reads throw. */
class DirStore implements BlobStore {
  failures = 0;
  readonly location: string;
  constructor(
    private readonly files: Map<string, Uint8Array>,
    name: string,
  ) {
    this.location = `mem://${name}`;
  }
  static async open(dir: string, name: string): Promise<DirStore> {
    const files = new Map<string, Uint8Array>();
    for (const f of await readdir(dir)) files.set(f, new Uint8Array(await readFile(join(dir, f))));
    return new DirStore(files, name);
  }
  async get(key: string, range?: ByteRange): Promise<Uint8Array | null> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('injected storage failure');
    }
    const bytes = this.files.get(key);
    if (!bytes) return null;
    return range ? bytes.subarray(range.offset, range.offset + range.length) : bytes;
  }
  async head(key: string) {
    const bytes = this.files.get(key);
    return bytes ? { size: bytes.length } : null;
  }
}

describe('WasmEngine (ORT-web in Node, precompiled module redirect)', () => {
  let fx: Fixture;
  let ort: OrtWasm;
  const dirs: Record<string, string> = {};
  const engine = (store: BlobStore) =>
    new WasmEngine({
      id: 'edge',
      store,
      load: (s) => loadPackage(s, { retries: 0 }),
      ort: () => ort,
    });

  before(async () => {
    fx = await tinyFixture({ seed: 4 });
    dirs.fp32 = await fx.pkg('fp32');
    dirs.dq = await fx.pkg('int4-dq', { dtype: 'int4', int4Layout: 'dq' });
    dirs.mnb = await fx.pkg('int4-mnb', { dtype: 'int4', int4Layout: 'matmulnbits' });
    const wasmPath = createRequire(import.meta.url).resolve(
      'onnxruntime-web/ort-wasm-simd-threaded.wasm',
    );
    ort = configureOrtWasm(ortWeb, await WebAssembly.compile(await readFile(wasmPath)));
  });
  after(() => fx.cleanup());

  test('concurrent callers share one load; tokens match ORT-node; heap is reported', async () => {
    const e = engine(await DirStore.open(dirs.fp32, 'fp32'));
    assert.equal(e.loadStatus().state, 'idle');
    const [a, b] = [e.model(), e.model()];
    assert.equal(a, b);
    assert.equal(e.loadStatus().state, 'loading');
    const model = await a;
    const status = e.loadStatus();
    assert.equal(status.state, 'ready');
    assert.ok((status.heapBytes ?? 0) >= 16 * 2 ** 20, `heap ${status.heapBytes}`);
    assert.equal(await e.model(), model);
    const node = await openModel(dirs.fp32, { runtime: 'node' });
    const ids = randomIds(7, model.runner.info.vocabSize - 8, 3);
    const opts = { maxTokens: 24, blockLength: 8, threshold: 0.9 };
    assert.deepEqual(
      (await generate(model.runner, ids, opts)).tokens,
      (await generate(node.runner, ids, opts)).tokens,
    );
  });

  test('a failed load is reported and retried by the next call', async () => {
    const store = await DirStore.open(dirs.fp32, 'flaky');
    store.failures = 1;
    const e = engine(store);
    await assert.rejects(e.model(), /injected storage failure/);
    assert.equal(e.loadStatus().state, 'failed');
    assert.match(e.loadStatus().error ?? '', /injected/);
    await e.model();
    assert.equal(e.loadStatus().state, 'ready');
  });

  for (const layout of ['dq', 'mnb'] as const) {
    test(`int4 ${layout} package loads with its session_config and generates`, async () => {
      const e = engine(await DirStore.open(dirs[layout], layout));
      const model = await e.model();
      assert.equal(model.manifest.quantization.int4_layout, layout === 'dq' ? 'dq' : 'matmulnbits');
      if (layout === 'dq')
        assert.equal(model.manifest.graph.session_config['session.disable_quant_qdq'], '1');
      const r = await generate(model.runner, randomIds(5, model.runner.info.vocabSize - 8, 1), {
        maxTokens: 16,
        blockLength: 8,
      });
      assert.equal(r.tokens.length, 16);
    });
  }
});
