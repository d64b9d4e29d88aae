/** How a denoising step reaches the runner; the two modes (reference, cached) implement this. */
import type { CanvasLayout } from './layout.ts';
import type { BlockRunner, ForwardOutput } from './runner.ts';
import type { StatsRecorder } from './stats.ts';
import type { PrefixCache } from './prefix-cache.ts';

export interface ActiveRows {
  readonly out: ForwardOutput;
  /** Row of the active block's first position in the output arrays. */
  readonly row: number;
}

export interface Forwarder {
  /** True when `prefill` runs a forward (cached mode with complete prompt blocks). */
  readonly needsPrefill: boolean;
  prefill(): Promise<void>;
  /** One denoising forward for `block` over the current canvas. */
  step(block: number): Promise<ActiveRows>;
  /** Releases any K/V still held. Safe to call more than once. */
  dispose(): void;
}

export interface ForwarderDeps {
  readonly runner: BlockRunner;
  /** The live canvas; the forwarder reads it, never writes it. */
  readonly canvas: Int32Array;
  readonly layout: CanvasLayout;
  readonly wantLogits: boolean;
  readonly stats: StatsRecorder;
  readonly prefixCache: PrefixCache | null;
}

export function iota(start: number, length: number): Int32Array {
  return Int32Array.from({ length }, (_, i) => start + i);
}

/** A runner that breaks the contract would otherwise surface as a confusing out-of-range read much later. */
export function checkOutput(
  out: ForwardOutput,
  seq: number,
  vocabSize: number,
  wantLogits: boolean,
): void {
  const { k } = out.topk;
  if (
    !(k >= 1) ||
    out.topk.ids.length < seq * k ||
    out.topk.probs.length < seq * k ||
    out.topk.logits.length < seq * k
  ) {
    throw new Error(`runner returned a top-k head too small for ${seq} positions (k = ${k})`);
  }
  if (wantLogits && (!out.logits || out.logits.length < seq * vocabSize)) {
    throw new Error(`runner returned no logits for ${seq} positions though they were asked for`);
  }
}
