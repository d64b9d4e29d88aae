// Types of xgrammar.mjs (the ES-module build of @mlc-ai/web-xgrammar made by backends/node/xgrammar-vendor.ts).
export {
  Grammar,
  GrammarCompiler,
  CompiledGrammar,
  GrammarMatcher,
  TokenizerInfo,
  Testings,
} from '@mlc-ai/web-xgrammar';

export interface XGrammarOptions {
  /** xgrammar.wasm compiled: a CompiledWasm import in workerd, `await WebAssembly.compile(bytes)` in Node. */
  wasmModule: WebAssembly.Module;
  /** The wasm's stdout / stderr lines (xgrammar prints the reason of a failed check to stderr, then aborts). */
  print?: (text: string) => void;
  printErr?: (text: string) => void;
  /** Called when the wasm aborts (the instance is unusable afterwards: call resetXGrammar()). */
  onAbort?: (what: unknown) => void;
}

export declare function configureXGrammar(options: XGrammarOptions): void;
export declare function resetXGrammar(): void;
