/**
 * Incremental detokenization with stop sequences. Text is released only when it can no longer change:
 * an incomplete UTF-8 tail (U+FFFD) and the last (longest stop − 1) characters are held back, so a stop
 * sequence split across blocks is still caught and never streamed.
 */
import type { TextCodec } from '../../model/text-codec.ts';

const REPLACEMENT = '\uFFFD';

export class TextStream {
  private readonly tokens: number[] = [];
  private emitted = 0;
  private full = '';
  private stopAt = -1;
  private stopLength = 0;
  private readonly holdBack: number;

  /** `decode`: ids → text (default: the codec's, special tokens skipped). */
  constructor(
    private readonly codec: TextCodec,
    private readonly stops: string[],
    private readonly decode: (ids: number[]) => string = (ids) => codec.decode(ids),
  ) {
    this.holdBack = Math.max(0, ...stops.map((s) => s.length - 1));
  }

  /** Adds committed tokens; returns the newly releasable text and whether a stop sequence was hit. */
  push(tokens: number[]): { delta: string; stopped: boolean } {
    if (this.stopped) return { delta: '', stopped: true };
    this.tokens.push(...tokens);
    this.full = this.decode(this.tokens);
    for (const stop of this.stops) {
      const at = this.full.indexOf(stop);
      if (at >= 0 && (this.stopAt < 0 || at < this.stopAt)) {
        this.stopAt = at;
        this.stopLength = stop.length;
      }
    }
    if (this.stopped) return { delta: this.take(this.stopAt), stopped: true };
    let end = this.full.length - this.holdBack;
    while (end > this.emitted && this.full[end - 1] === REPLACEMENT) end--;
    return { delta: this.take(end), stopped: false };
  }

  /** Releases whatever is held back (end of generation). */
  finish(): string {
    return this.take(this.stopped ? this.stopAt : this.full.length);
  }

  get stopped(): boolean {
    return this.stopAt >= 0;
  }

  /** The final text (cut before the stop sequence, if one was hit). */
  get text(): string {
    return this.stopped ? this.full.slice(0, this.stopAt) : this.full;
  }

  /** Tokens generated up to and including the stop sequence (all tokens when none was hit). */
  completionTokens(): number {
    if (!this.stopped) return this.tokens.length;
    const need = this.stopAt + this.stopLength;
    let lo = 1;
    let hi = this.tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.decode(this.tokens.slice(0, mid)).length >= need) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private take(end: number): string {
    if (end <= this.emitted) return '';
    const out = this.full.slice(this.emitted, end);
    this.emitted = end;
    return out;
  }
}
