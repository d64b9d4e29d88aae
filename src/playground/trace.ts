/**
 * One generation as the playground sees it: its denoising steps (the API's frames, or the same frames made in
 * the browser), when each arrived, and the text. It answers what the view shows at any step (live or replayed)
 * and the readouts.
 */
import type { DenoiseFrame } from '../api/serving/generation.ts';

export type Frame = DenoiseFrame;
export type Committed = Frame['committed'][number];

export interface TraceStep extends Frame {
  /** ms since the request started, when the step arrived. */
  atMs: number;
}

export interface Cell {
  /** Position in the output (0 = the first generated token). */
  index: number;
  state: 'masked' | 'new' | 'committed';
  token?: Committed;
  /** The block step that committed it. */
  step?: number;
}

export interface StepView {
  /** 0-based over the whole generation. */
  k: number;
  block: number;
  step: number;
  cells: Cell[];
  /** Tokens of the blocks finished before this one, in order. */
  before: Committed[];
}

export interface Readouts {
  /** Denoising forwards so far (one per step; the prompt's prefill forward is not a step). */
  forwards: number;
  committed: number;
  tokensPerForward: number;
  /** Mean time between steps (for one step: since the request started), ms. */
  msPerForward: number | null;
  /** From the request to the first committed token, ms. */
  firstTokenMs: number | null;
}

export class GenerationTrace {
  readonly steps: TraceStep[] = [];
  text = '';
  finishReason: string | null = null;
  error: string | null = null;
  done = false;
  private readonly blockCells = new Map<number, Set<number>>();

  add(frame: Frame, atMs: number): void {
    this.steps.push({ ...frame, atMs });
    let cells = this.blockCells.get(frame.block);
    if (!cells) this.blockCells.set(frame.block, (cells = new Set()));
    for (const c of frame.committed) cells.add(c.index);
    for (const m of frame.masked) cells.add(m);
  }

  /** The view after step k (default: the latest). */
  view(k = this.steps.length - 1): StepView | null {
    if (k < 0 || k >= this.steps.length) return null;
    const at = this.steps[k];
    const before: Committed[] = [];
    const current = new Map<number, { token: Committed; step: number }>();
    for (let i = 0; i <= k; i++) {
      const s = this.steps[i];
      if (s.block < at.block) before.push(...s.committed);
      else for (const c of s.committed) current.set(c.index, { token: c, step: s.step });
    }
    before.sort((a, b) => a.index - b.index);
    const indices = [...(this.blockCells.get(at.block) ?? [])].sort((a, b) => a - b);
    const fresh = new Set(at.committed.map((c) => c.index));
    const cells: Cell[] = indices.map((index) => {
      const hit = current.get(index);
      if (!hit) return { index, state: 'masked' };
      return {
        index,
        state: fresh.has(index) ? 'new' : 'committed',
        token: hit.token,
        step: hit.step,
      };
    });
    return { k, block: at.block, step: at.step, cells, before };
  }

  /** Every committed token, in output order (the tokens the generation decided, EOS and the tail included). */
  tokens(): Committed[] {
    return this.steps.flatMap((s) => s.committed).sort((a, b) => a.index - b.index);
  }

  readouts(upTo = this.steps.length - 1): Readouts {
    const steps = this.steps.slice(0, upTo + 1);
    const committed = steps.reduce((n, s) => n + s.committed.length, 0);
    const first = steps.find((s) => s.committed.length > 0);
    let msPerForward: number | null = null;
    if (steps.length === 1) msPerForward = steps[0].atMs;
    else if (steps.length > 1)
      msPerForward = (steps[steps.length - 1].atMs - steps[0].atMs) / (steps.length - 1);
    return {
      forwards: steps.length,
      committed,
      tokensPerForward: steps.length ? committed / steps.length : 0,
      msPerForward,
      firstTokenMs: first ? first.atMs : null,
    };
  }
}
