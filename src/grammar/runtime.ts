/**
 * The grammar engine as this folder receives it: the xgrammar module (the ES-module build of
 * @mlc-ai/web-xgrammar), already pointed at its wasm by a runtime-specific loader (backends/wasm for workerd,
 * backends/node for Node), plus the two things the wrapper needs around it: a reset after a wasm abort and the
 * wasm's stderr (where xgrammar writes why it aborted).
 */
import type * as XGrammar from '@mlc-ai/web-xgrammar';

export type XGrammarModule = Pick<
  typeof XGrammar,
  'TokenizerInfo' | 'GrammarCompiler' | 'GrammarMatcher' | 'CompiledGrammar'
>;
export type XGrammarTokenizerInfo = XGrammar.TokenizerInfo;
export type XGrammarCompiler = XGrammar.GrammarCompiler;
export type XGrammarCompiled = XGrammar.CompiledGrammar;
export type XGrammarMatcher = XGrammar.GrammarMatcher;

export interface XGrammarRuntime {
  readonly module: XGrammarModule;
  /** Drops the wasm instance; the next call makes a fresh one. Every object made before is dead. */
  reset(): void;
  /**
   * The wasm's output lines since the last call (bounded), oldest first: xgrammar's warnings (e.g. a refused
   * special token) and the reason it printed before an abort. Nothing goes to the console.
   */
  takeErrors(): string[];
}

/** Keeps the last few stderr lines of the wasm for takeErrors(). */
export class ErrorLines {
  private lines: string[] = [];
  constructor(private readonly max = 16) {}
  push = (line: string): void => {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  };
  take(): string[] {
    const out = this.lines;
    this.lines = [];
    return out;
  }
}
