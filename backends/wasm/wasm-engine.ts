/**
 * The in-process edge engine: one model per isolate, read from a BlobStore on the first request, turned into an
 * ORT-web session, and reused by every later request. The load promise is cached; a failed load is dropped so the
 * next request retries it.
 */
import type { BlobStore } from '../../src/model/store.ts';
import { SessionRunner } from '../../src/ort/session-runner.ts';
import type { EdgeModel, EngineStatus, ModelEngine } from '../../src/worker/engine.ts';
import { createSession, type PackageBytes } from './create-session.ts';
import { packageCodec } from '../../src/model/package-codec.ts';
import type { OrtWasm } from './ort-wasm.ts';

/** Reads a package's manifest and the files the engine needs (graph, weights, tokenizer files). */
export type PackageLoad = (store: BlobStore) => Promise<PackageBytes>;

export interface WasmEngineOptions {
  /** The model name the edge serves (EDGE_MODEL). */
  name: string;
  store: BlobStore;
  load: PackageLoad;
  /** The configured ORT-web module; called once, at the first load. */
  ort: () => OrtWasm | Promise<OrtWasm>;
}

/** A loaded model plus what it cost. */
export interface WasmModel extends EdgeModel {
  runner: SessionRunner;
  load: { fetchMs: number; sessionMs: number; totalMs: number };
  /** The wasm heap right after session create. */
  heapBytes: number | null;
  /** The wasm heap now. */
  heapNow(): number | null;
}

/**
 * @example
 * const engine = new WasmEngine({ name: 'llada2-mini', store, load: (s) => loadPackage(s), ort: workerdOrt });
 * const { runner, codec } = await engine.model();   // inside a request handler
 */
export class WasmEngine implements ModelEngine {
  readonly name: string;
  private readonly store: BlobStore;
  private readonly loadPackage: PackageLoad;
  private readonly getOrt: WasmEngineOptions['ort'];
  private pending: Promise<WasmModel> | undefined;
  private loaded: WasmModel | undefined;
  private lastError: string | undefined;

  constructor({ name, store, load, ort }: WasmEngineOptions) {
    this.name = name;
    this.store = store;
    this.loadPackage = load;
    this.getOrt = ort;
  }

  status(): EngineStatus {
    const base = { model: this.name, source: this.store.location };
    if (this.loaded) {
      const { manifest, load, heapBytes, heapNow } = this.loaded;
      return {
        ...base,
        state: 'ready',
        package: manifest.name,
        load,
        heapBytes,
        heapNowBytes: heapNow(),
      };
    }
    if (this.pending) return { ...base, state: 'loading' };
    return this.lastError === undefined
      ? { ...base, state: 'idle' }
      : { ...base, state: 'failed', error: this.lastError };
  }

  model(): Promise<WasmModel> {
    if (!this.pending) {
      const p = this.load();
      this.pending = p;
      p.then(
        (m) => {
          this.loaded = m;
          this.lastError = undefined;
        },
        (e: unknown) => {
          if (this.pending === p) this.pending = undefined;
          this.lastError = e instanceof Error ? e.message : String(e);
        },
      );
    }
    return this.pending;
  }

  private async load(): Promise<WasmModel> {
    const t0 = performance.now();
    const pkg = await this.loadPackage(this.store);
    const t1 = performance.now();
    const { ort, heapBytes } = await this.getOrt();
    const { manifest } = pkg;
    const codec = packageCodec(manifest, pkg.files);
    const session = await createSession(ort, pkg);
    const t2 = performance.now();
    // pkg goes out of scope here: ORT holds its own copy of the weights, the JS bytes can be collected.
    return {
      manifest,
      runner: new SessionRunner({ ort, session, manifest }),
      codec,
      load: { fetchMs: t1 - t0, sessionMs: t2 - t1, totalMs: t2 - t0 },
      heapBytes: heapBytes(),
      heapNow: heapBytes,
    };
  }
}
