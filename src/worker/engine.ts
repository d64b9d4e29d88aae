/**
 * What the Worker app needs from a model backend: a lazily loaded model (manifest, BlockRunner, TextCodec) and
 * its load state. Implemented by backends/wasm (in-process ORT-web); the app never imports a backend.
 */
import type { BlockRunner } from '../decode/index.ts';
import type { Manifest } from '../model/manifest.ts';
import type { TextCodec } from '../model/text-codec.ts';

export interface EdgeModel {
  manifest: Manifest;
  runner: BlockRunner;
  codec: TextCodec;
}

export type EngineState = 'idle' | 'loading' | 'ready' | 'failed';

export interface EngineStatus {
  state: EngineState;
  /** The name the edge serves (EDGE_MODEL). */
  model: string;
  /** Where the package is read from, e.g. "r2://MODELS/tiny-random" (never credentials). */
  source: string;
  /** The package's manifest name, once loaded. */
  package?: string;
  /** Timings of the last successful load, ms. */
  load?: { fetchMs: number; sessionMs: number; totalMs: number };
  /** Size of the runtime's heap (wasm linear memory) right after the session was created, bytes. */
  heapBytes?: number | null;
  /** Its size now (it grows with the largest request so far and never shrinks), bytes. */
  heapNowBytes?: number | null;
  /** The last load failure's message, while not ready. */
  error?: string;
}

export interface ModelEngine {
  readonly name: string;
  status(): EngineStatus;
  /**
   * The loaded model, loading it on the first call. Concurrent callers share one load; after a failed load the
   * next call tries again.
   */
  model(): Promise<EdgeModel>;
}
