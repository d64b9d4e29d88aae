/**
 * What the loop needs from a grammar (structured output): a left-to-right token acceptor with a mask of the tokens
 * allowed next. The loop knows nothing about JSON or schemas; src/grammar implements this over xgrammar, tests over
 * small hand-written grammars. How the loop drives it is in constrained-step.ts.
 */

/** One generation's grammar state. Tokens are fed strictly in canvas order. */
export interface TokenConstraint {
  /**
   * The tokens the grammar allows next, as a bitmask over the vocabulary: token t is allowed when bit (t & 31) of
   * word (t >>> 5) is 1. Never asked once terminated. Must allow at least one token otherwise.
   */
  allowed(): Int32Array | Promise<Int32Array>;
  /** Advances past `token` when the grammar allows it next and returns true; otherwise returns false, unchanged. */
  accept(token: number): boolean;
  /** True once a stop token (EOS) was accepted: the text is complete and nothing may follow. */
  isTerminated(): boolean;
  /** Frees what it holds. The loop calls it exactly once, when the generation ends (however it ends). */
  dispose(): void;
}

/** A request's grammar, shared by its choices: each generation starts its own constraint. */
export interface ConstraintSource {
  /** A constraint at the grammar's start. */
  start(): TokenConstraint | Promise<TokenConstraint>;
  /**
   * The request's format as plain JSON (the API's `response_format`), for decoders in another process that build
   * their own constraint from it (pool members). The loop never reads it.
   */
  readonly spec: Readonly<Record<string, unknown>>;
}

/** Whether `token` is allowed in `mask`. */
export function allows(mask: Int32Array, token: number): boolean {
  return ((mask[token >>> 5] >>> (token & 31)) & 1) === 1;
}
