/**
 * ORT-web's one-time initialisation (wasm instantiate, runtime and logging setup) done on its own, so the Worker
 * can run it while the model package is still being fetched and verified: onnxruntime-web has no public init
 * call, so a 65-byte Identity graph (opset 13, float[1] → float[1]) is opened and released. Measured apart, it
 * is also the "ORT init" line of the cold-start breakdown.
 */
import type { OrtWebModule } from './ort-wasm.ts';

const IDENTITY_GRAPH_BASE64 =
  'CAg6NwoQCgF4EgF5IghJZGVudGl0eRIBZ1oPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEA0=';

/** The Identity graph's bytes (a fresh copy: ORT may take ownership of what it is given). */
export function identityGraph(): Uint8Array {
  return Uint8Array.from(atob(IDENTITY_GRAPH_BASE64), (ch) => ch.charCodeAt(0));
}

/** Initialises ORT-web's wasm runtime (idempotent in ORT: later sessions skip it). */
export async function initOrt(ort: OrtWebModule): Promise<void> {
  const session = await ort.InferenceSession.create(identityGraph(), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'disabled',
    logSeverityLevel: 3,
  });
  await session.release();
}
