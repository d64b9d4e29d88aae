/**
 * The in-process edge engine: one model per isolate, read from a BlobStore on the first request, turned into an
 * ORT-web session, and reused by every later request. The load promise is cached; a failed load is dropped so the
 * next request retries it.
 */
import type { BlobStore } from '../../src/model/store.ts';
import { SessionRunner } from '../../src/ort/session-runner.ts';
import type { PrefixCache } from '../../src/decode/index.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import type { TextCodec } from '../../src/model/text-codec.ts';
import type { EngineStatus, ModelEngine, OpenModel } from '../../src/api/engine.ts';
import { runnerEngine } from '../../src/api/runner-engine.ts';
import { createSession, type PackageBytes } from '../../src/ort/create-session.ts';
import { packageCodec } from '../../src/model/package-codec.ts';
import type { OrtWasm } from './ort-wasm.ts';
import { initOrt } from './ort-init.ts';

/** Reads a package's manifest and the files the engine needs (graph, weights, tokenizer files). */
export type PackageLoad = (store: BlobStore) => Promise<PackageBytes>;

export interface WasmEngineOptions {
  /** The model id the edge serves (EDGE_MODEL). */
  id: string;
  store: BlobStore;
  load: PackageLoad;
  /** The configured ORT-web module; called once, at the first load. */
  ort: () => OrtWasm | Promise<OrtWasm>;
  /** Prompt prefixes shared across the isolate's requests (default: none). */
  prefixCache?: PrefixCache;
}

/** A loaded model plus what it cost. */
export interface WasmModel {
  manifest: Manifest;
  codec: TextCodec;
  runner: SessionRunner;
  /**
   * Package fetch + verify and ORT init run side by side; the session is created after both. They share the
   * isolate's one thread, so `fetchMs` (until the package was ready) includes ORT init's CPU time whenever the
   * fetch's I/O finished first; `fetchWaitMs` is what the fetch added after ORT was ready (its share of the
   * critical path: load = ortMs + fetchWaitMs + sessionMs).
   */
  load: { fetchMs: number; fetchWaitMs: number; ortMs: number; sessionMs: number; totalMs: number };
  /** The wasm heap right after session create. */
  heapBytes: number | null;
  /** The wasm heap now. */
  heapNow(): number | null;
}

/**
 * The API's engine for the in-process model (decodes interleave between forwards and share the prefix cache).
 * @example
 * const engine = new WasmEngine({ id: 'llada2-mini', store, load: (s) => loadPackage(s), ort: workerdOrt });
 * const model = await engine.open();   // inside a request handler
 */
export class WasmEngine implements ModelEngine {
  readonly id: string;
  readonly backend = 'edge-wasm';
  readonly ownedBy = 'unmask';
  private readonly engine: ModelEngine;
  private readonly store: BlobStore;
  private readonly loadPackage: PackageLoad;
  private readonly getOrt: WasmEngineOptions['ort'];
  private pending: Promise<WasmModel> | undefined;
  private loaded: WasmModel | undefined;
  private lastError: string | undefined;

  constructor({ id, store, load, ort, prefixCache }: WasmEngineOptions) {
    this.id = id;
    this.store = store;
    this.loadPackage = load;
    this.getOrt = ort;
    this.engine = runnerEngine({
      id,
      backend: this.backend,
      load: () => this.model(),
      prefixCache,
    });
  }

  open(): Promise<OpenModel> {
    return this.engine.open();
  }

  loadStatus(): EngineStatus {
    const base = { model: this.id, source: this.store.location };
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

  /** The loaded model itself (the session's runner, its heap), loading it on the first call. */
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
    // ORT initialises while the package is fetched and verified (the two do not depend on each other).
    let t1 = t0;
    let tOrt = t0;
    const [pkg, { ort, heapBytes }] = await Promise.all([
      this.loadPackage(this.store).then((p) => ((t1 = performance.now()), p)),
      Promise.resolve(this.getOrt()).then(async (o) => {
        await initOrt(o.ort);
        tOrt = performance.now();
        return o;
      }),
    ]);
    const { manifest } = pkg;
    const codec = packageCodec(manifest, pkg.files);
    const tSession = performance.now();
    const session = await createSession(ort, pkg);
    const t2 = performance.now();
    // pkg goes out of scope here: ORT holds its own copy of the weights, the JS bytes can be collected.
    return {
      manifest,
      runner: new SessionRunner({ ort, session, manifest }),
      codec,
      load: {
        fetchMs: t1 - t0,
        fetchWaitMs: Math.max(0, t1 - tOrt),
        ortMs: tOrt - t0,
        sessionMs: t2 - tSession,
        totalMs: t2 - t0,
      },
      heapBytes: heapBytes(),
      heapNow: heapBytes,
    };
  }
}
