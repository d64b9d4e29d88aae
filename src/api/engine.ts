/**
 * What the API needs from a backend: a model that turns prompt ids into DecodeEvents. The in-process WASM
 * engine and the GPU-pool client both provide it, so routes never know which one runs a request.
 */
import type { DecodeEvent, DecodeOptions } from '../decode/index.ts';
import type { RunnerInfo } from '../decode/runner.ts';
import type { TextCodec } from '../model/text-codec.ts';
import type { Tenant } from './tenancy.ts';

/** Who a decode runs for, as the backend schedules it (not part of the decode loop's own options). */
export interface DecodeContext {
  /** The tenant whose turns at an in-process model this decode shares (fair-turns.ts); '' or absent: none. */
  share?: string;
}

export interface OpenModel {
  codec: TextCodec;
  info: RunnerInfo;
  decode(
    promptIds: number[],
    options: DecodeOptions,
    context?: DecodeContext,
  ): AsyncIterable<DecodeEvent>;
  /**
   * The backend that served this request, when it differs from the engine's (a routed engine that degraded to
   * the edge, or picked the GPU pool for a long request). Read after decoding, for usage records.
   */
  readonly backend?: string;
}

/** Load state of an in-process model, for GET /health (never triggers a load). */
export interface EngineStatus {
  state: 'idle' | 'loading' | 'ready' | 'failed';
  /** The model id it serves. */
  model: string;
  /** Where the package is read from, e.g. "r2://MODELS/tiny-random" (never credentials). */
  source: string;
  /** The package's manifest name, once loaded. */
  package?: string;
  /** Timings of the last successful load, ms. */
  load?: {
    fetchMs: number;
    fetchWaitMs?: number;
    ortMs?: number;
    sessionMs: number;
    totalMs: number;
  };
  /** Size of the runtime's heap (wasm linear memory) right after the session was created, bytes. */
  heapBytes?: number | null;
  /** Its size now (it grows with the largest request so far and never shrinks), bytes. */
  heapNowBytes?: number | null;
  /** The last load failure, while not ready (for operators; tenants never see it). */
  error?: string;
}

export interface ModelEngine {
  readonly id: string;
  /** Which backend serves it, for usage records and metrics (e.g. "edge-wasm", "gpu-pool", "node"). */
  readonly backend: string;
  readonly ownedBy: string;
  /** Loads lazily; the same promise is reused while it succeeds. */
  open(): Promise<OpenModel>;
  /** Load state, for engines that load in-process (health checks). */
  loadStatus?(): EngineStatus;
}

/** Who is asking, for registries that route per request (e.g. a tenant that degrades to the edge). */
export interface RouteContext {
  tenant: Tenant;
}

/** Looks engines up by model id. */
export interface EngineRegistry {
  list(): ModelEngine[];
  get(model: string, ctx?: RouteContext): ModelEngine | undefined;
}

export function staticRegistry(engines: ModelEngine[]): EngineRegistry {
  const byId = new Map(engines.map((e) => [e.id, e]));
  return { list: () => [...byId.values()], get: (id) => byId.get(id) };
}
