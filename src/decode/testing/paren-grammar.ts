/**
 * Test helper: a small grammar as a TokenConstraint, for decode tests without xgrammar. Token 0 is "(", 1 is ")",
 * 2 .. 2+letters-1 are letters; a text is one or more groups "(" … ")" with letters only inside, nesting at most
 * `maxDepth`, then EOS. `validParens` checks a finished output the same way.
 */
import type { ConstraintSource, TokenConstraint } from '../constraint.ts';

export const OPEN = 0;
export const CLOSE = 1;

export class ParenGrammar implements TokenConstraint {
  depth = 0;
  length = 0;
  terminated = false;
  disposed = false;
  /** Every token accepted, in order. */
  readonly accepted: number[] = [];

  constructor(
    private readonly vocabSize: number,
    private readonly eosId: number,
    private readonly maxDepth = 3,
    private readonly letters = Infinity,
  ) {}

  private ok(t: number): boolean {
    if (this.terminated || this.disposed) return false;
    if (t === this.eosId) return this.depth === 0 && this.length > 0;
    if (t === OPEN) return this.depth < this.maxDepth;
    if (t === CLOSE) return this.depth > 0;
    return t > CLOSE && t < Math.min(this.eosId, 2 + this.letters) && this.depth > 0;
  }

  allowed(): Int32Array {
    if (this.terminated) throw new Error('paren grammar: allowed() after termination');
    const mask = new Int32Array(Math.ceil(this.vocabSize / 32));
    for (let t = 0; t < this.vocabSize; t++) if (this.ok(t)) mask[t >>> 5] |= 1 << (t & 31);
    return mask;
  }

  accept(t: number): boolean {
    if (!this.ok(t)) return false;
    this.accepted.push(t);
    if (t === this.eosId) this.terminated = true;
    else {
      this.length++;
      if (t === OPEN) this.depth++;
      if (t === CLOSE) this.depth--;
    }
    return true;
  }

  isTerminated(): boolean {
    return this.terminated;
  }

  dispose(): void {
    if (this.disposed) throw new Error('paren grammar: disposed twice');
    this.disposed = true;
  }
}

/** A ConstraintSource that records every grammar it started. */
export function parenSource(vocabSize: number, eosId: number, maxDepth = 3, letters = Infinity) {
  const started: ParenGrammar[] = [];
  const source: ConstraintSource = {
    spec: { type: 'paren' },
    start: () => {
      const g = new ParenGrammar(vocabSize, eosId, maxDepth, letters);
      started.push(g);
      return g;
    },
  };
  return { source, started };
}

/** Whether `tokens` (an output, EOS included when it stopped) is a complete text of the grammar. */
export function validParens(
  tokens: number[],
  vocabSize: number,
  eosId: number,
  maxDepth = 3,
  letters = Infinity,
): boolean {
  const g = new ParenGrammar(vocabSize, eosId, maxDepth, letters);
  return tokens.every((t) => g.accept(t)) && g.terminated;
}

/** Whether `tokens` is a prefix the grammar accepts (a truncated output). */
export function parenPrefix(
  tokens: number[],
  vocabSize: number,
  eosId: number,
  maxDepth = 3,
  letters = Infinity,
): boolean {
  const g = new ParenGrammar(vocabSize, eosId, maxDepth, letters);
  return tokens.every((t) => g.accept(t));
}
