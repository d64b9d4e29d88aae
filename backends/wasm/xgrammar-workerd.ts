/**
 * xgrammar inside workerd: the vendored ES module with its wasm imported as a CompiledWasm module (wrangler's
 * `**\/*.wasm` rule; Workers forbid compiling wasm bytes). Configured on first use; the wasm is instantiated
 * lazily by the first grammar call, never at global scope.
 */
import * as xgrammar from './xgrammar/xgrammar.mjs';
import xgrammarWasm from './xgrammar/xgrammar.wasm';
import { ErrorLines, type XGrammarRuntime } from '../../src/grammar/runtime.ts';

let runtime: XGrammarRuntime | undefined;

export function workerdXGrammar(): XGrammarRuntime {
  if (runtime) return runtime;
  const errors = new ErrorLines();
  xgrammar.configureXGrammar({
    wasmModule: xgrammarWasm,
    print: errors.push,
    printErr: errors.push,
  });
  runtime = { module: xgrammar, reset: xgrammar.resetXGrammar, takeErrors: () => errors.take() };
  return runtime;
}
