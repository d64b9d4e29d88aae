/**
 * xgrammar in Node: the same vendored ES module as in workerd (backends/wasm/xgrammar), with its wasm read from
 * disk and compiled once per process.
 */
import { readFile } from 'node:fs/promises';
import * as xgrammar from '../wasm/xgrammar/xgrammar.mjs';
import { ErrorLines, type XGrammarRuntime } from '../../src/grammar/runtime.ts';

const WASM = new URL('../wasm/xgrammar/xgrammar.wasm', import.meta.url);
let loading: Promise<XGrammarRuntime> | undefined;

export function nodeXGrammar(): Promise<XGrammarRuntime> {
  loading ??= (async () => {
    const wasmModule = await WebAssembly.compile(await readFile(WASM));
    const errors = new ErrorLines();
    xgrammar.configureXGrammar({ wasmModule, print: errors.push, printErr: errors.push });
    return { module: xgrammar, reset: xgrammar.resetXGrammar, takeErrors: () => errors.take() };
  })();
  return loading;
}
