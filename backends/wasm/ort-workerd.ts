/**
 * onnxruntime-web inside workerd: the `.wasm` is imported as a CompiledWasm module (wrangler's default rule for
 * `*.wasm`, or a Miniflare `CompiledWasm` module) and handed to configureOrtWasm. Workers entry only.
 */
import * as ort from 'onnxruntime-web/wasm';
import ortWasmModule from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import { configureOrtWasm, type OrtWasm } from './ort-wasm.ts';

let configured: OrtWasm | undefined;

/** The configured ORT-web module for this isolate (configured on first call; cheap afterwards). */
export function workerdOrt(): OrtWasm {
  configured ??= configureOrtWasm(ort, ortWasmModule);
  return configured;
}
