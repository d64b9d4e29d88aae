/**
 * The one place ORT session options are built, for every runtime: onnxruntime-web in workerd and in Node (the
 * `wasm` provider) and onnxruntime-node (`cpu`, `cuda`, `webgpu`). Pure: no ORT import, no I/O.
 */
import type { InferenceSession } from 'onnxruntime-common';
import type { Manifest } from '../model/manifest.ts';

/** Execution providers Unmask knows: `wasm` is onnxruntime-web's; the others are onnxruntime-node's. */
export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu' | 'wasm';

/** The prefixes of ORT's session config keys. */
const CONFIG_PREFIXES = ['session', 'optimization', 'ep', 'mlas'];

export interface SessionSettings {
  /** Default 'cpu'. */
  provider?: ExecutionProvider;
  /** CUDA device ordinal (default 0; ignored by the other providers). */
  deviceId?: number;
  /** Intra-op threads (default: ORT's choice; onnxruntime-web sets its thread count globally instead). */
  threads?: number;
  /**
   * External data as bytes, for a session created from graph bytes (onnxruntime-web). A session created from
   * a file path (onnxruntime-node) leaves this out: ORT reads the files next to the graph itself.
   */
  externalData?: { path: string; data: Uint8Array }[];
}

/**
 * The package's session options: the manifest's `graph.session_config` (keys with the `session.` prefix
 * stripped, into `extra.session`; e.g. `disable_quant_qdq: '1'` makes ORT fold the int4 DequantizeLinear layout
 * into fp32 weights at load), full graph optimisation, warnings off.
 * @example await ort.InferenceSession.create(path, sessionOptions(manifest, { provider: 'cuda', deviceId: 1 }))
 */
export function sessionOptions(
  manifest: Manifest,
  { provider = 'cpu', deviceId = 0, threads, externalData = [] }: SessionSettings = {},
): InferenceSession.SessionOptions {
  // ORT's config keys are dotted ('session.disable_quant_qdq', 'optimization.…'); `extra` takes them nested
  // by their first segment. A key without a known prefix is a session key.
  const extra: Record<string, Record<string, string>> = { session: {} };
  for (const [key, value] of Object.entries(manifest.graph.session_config)) {
    const dot = key.indexOf('.');
    const prefix = dot > 0 && CONFIG_PREFIXES.includes(key.slice(0, dot)) ? key.slice(0, dot) : '';
    const group = prefix || 'session';
    extra[group] ??= {};
    extra[group][prefix ? key.slice(dot + 1) : key] = value;
  }
  return {
    executionProviders: [provider === 'cuda' ? { name: 'cuda', deviceId } : provider],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(externalData.length ? { externalData } : {}),
    ...(threads ? { intraOpNumThreads: threads } : {}),
    extra,
  };
}
