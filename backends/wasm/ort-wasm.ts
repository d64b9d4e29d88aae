/**
 * Points onnxruntime-web at a precompiled WebAssembly.Module (docs/workerd.md §2). Workers forbid compiling
 * wasm bytes, and ORT 1.30 has no `instantiateWasm` hook, so `WebAssembly.instantiate` is wrapped once; the wrapper
 * only acts on our placeholder `wasmBinary`, every other call passes through. It also keeps the ORT heap's
 * WebAssembly.Memory so the engine can report its size.
 */
import type * as OrtWeb from 'onnxruntime-web/wasm';

export type OrtWebModule = typeof OrtWeb;

/** A configured ORT-web module and a reader for its wasm heap. */
export interface OrtWasm {
  ort: OrtWebModule;
  /** Bytes of ORT's WebAssembly.Memory (it only grows); null before the first session or when not captured. */
  heapBytes(): number | null;
}

type Instantiate = (source: unknown, imports?: WebAssembly.Imports) => Promise<unknown>;

// An ArrayBuffer, not a Uint8Array: the Emscripten glue wraps it in a view (same buffer) and passes that on.
const PLACEHOLDER = new ArrayBuffer(8);
let redirectTo: WebAssembly.Module | undefined;
let memory: WebAssembly.Memory | undefined;

function isPlaceholder(source: unknown): boolean {
  return ArrayBuffer.isView(source) ? source.buffer === PLACEHOLDER : source === PLACEHOLDER;
}

function findMemory(namespaces: object | undefined): WebAssembly.Memory | undefined {
  for (const ns of Object.values(namespaces ?? {})) {
    if (ns instanceof WebAssembly.Memory) return ns;
    if (ns && typeof ns === 'object')
      for (const v of Object.values(ns)) if (v instanceof WebAssembly.Memory) return v;
  }
  return undefined;
}

function installRedirect(wasmModule: WebAssembly.Module): void {
  if (redirectTo) {
    if (redirectTo !== wasmModule)
      throw new Error('ort-wasm: already configured with another WebAssembly.Module');
    return;
  }
  redirectTo = wasmModule;
  const original = WebAssembly.instantiate.bind(WebAssembly) as Instantiate;
  const redirect: Instantiate = async (source, imports) => {
    if (!isPlaceholder(source)) return original(source, imports);
    // The threaded build imports its (shared) memory; exports are the fallback for other builds.
    memory ??= findMemory(imports);
    const instance = (await original(wasmModule, imports)) as WebAssembly.Instance;
    memory ??= findMemory({ exports: instance.exports });
    return { instance, module: wasmModule };
  };
  (WebAssembly as unknown as { instantiate: Instantiate }).instantiate = redirect;
}

/**
 * Configures `ort` to instantiate `wasmModule` (ort-wasm-simd-threaded.wasm, compiled): one thread, no proxy
 * worker, no fetch. Idempotent. Sessions must still be created inside a request handler, never at global scope.
 *
 * @example
 * import * as ort from 'onnxruntime-web/wasm';
 * const { ort: configured } = configureOrtWasm(ort, new WebAssembly.Module(bytes));
 */
export function configureOrtWasm(ort: OrtWebModule, wasmModule: WebAssembly.Module): OrtWasm {
  installRedirect(wasmModule);
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = PLACEHOLDER;
  return { ort, heapBytes: () => (memory ? memory.buffer.byteLength : null) };
}
