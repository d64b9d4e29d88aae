/**
 * The ORT packages on Node, imported in one place: onnxruntime-node (native CPU, CUDA, WebGPU) and
 * onnxruntime-web (the WASM build the Worker runs), set up like in workerd by backends/wasm/ort-wasm.ts with
 * the module compiled from node_modules (one thread, no proxy worker, no fetch).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { InferenceSession } from 'onnxruntime-common';
import type { OrtModule } from '../../src/ort/session-runner.ts';
import { configureOrtWasm, type OrtWasm } from '../wasm/ort-wasm.ts';

/** What opening a model needs from either ORT package. */
export type OrtPackage = OrtModule & { InferenceSession: typeof InferenceSession };

/** onnxruntime-node (a dev dependency of the Worker build, a dependency of every Node server). */
export async function nativeOrt(): Promise<OrtPackage> {
  return (await import('onnxruntime-node')) as unknown as OrtPackage;
}

let webOrt: Promise<OrtWasm> | undefined;

/** onnxruntime-web configured for Node, once per process. */
export function wasmOrt(): Promise<OrtWasm> {
  webOrt ??= (async () => {
    const ort = await import('onnxruntime-web/wasm');
    const path = createRequire(import.meta.url).resolve(
      'onnxruntime-web/ort-wasm-simd-threaded.wasm',
    );
    return configureOrtWasm(ort, await WebAssembly.compile(await readFile(path)));
  })();
  return webOrt;
}
