/** Which canvas tokens become output, and the two EOS stop rules (docs/decode-algorithm.md §3 item 8, §5, §8). */
import type { CanvasLayout } from './layout.ts';

export interface BlockOutput {
  /** The block's share of x[P : P+G], cut after the first EOS (kept). */
  readonly tokens: number[];
  /** That share contains EOS: generation stops with 'stop'. */
  readonly eos: boolean;
  /** EOS only in the last block's tail past P+G (decoded, then dropped): stops, but the output ends at G. */
  readonly eosInTail: boolean;
}

export function blockOutput(
  canvas: Int32Array,
  layout: CanvasLayout,
  block: number,
  eosId: number,
): BlockOutput {
  const { promptLength: P, maxTokens: G, blockLength: B } = layout;
  const from = Math.max(P, block * B);
  const to = Math.min((block + 1) * B, P + G);
  const tokens = Array.from(canvas.subarray(from, to));
  const at = tokens.indexOf(eosId);
  if (at >= 0) return { tokens: tokens.slice(0, at + 1), eos: true, eosInTail: false };
  return { tokens, eos: false, eosInTail: canvas.subarray(to, (block + 1) * B).includes(eosId) };
}

/**
 * HF's mid-block early stop, quirks kept (spec §8): e = the first EOS in x[0, W), the prompt included; when
 * x[P, e) has no mask, generation returns x[P, e + 1), which is empty when e is in the prompt and may run past
 * P + G (no gen_length cut on this path). Returns the output's end (exclusive, >= P), or null to go on.
 */
export function earlyStopEnd(
  canvas: Int32Array,
  layout: CanvasLayout,
  windowEnd: number,
  eosId: number,
  maskId: number,
): number | null {
  const P = layout.promptLength;
  const e = canvas.subarray(0, windowEnd).indexOf(eosId);
  if (e < 0) return null;
  for (let i = P; i < e; i++) if (canvas[i] === maskId) return null;
  return Math.max(P, e + 1);
}
