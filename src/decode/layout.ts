/** Canvas geometry of one generation (docs/decode-algorithm.md §2–3): lengths, blocks and the transfer schedule. */

export interface CanvasLayout {
  /** P: prompt tokens at canvas[0, P). */
  readonly promptLength: number;
  /** G: the requested generation length (HF `gen_length`, OpenAI `max_tokens`). */
  readonly maxTokens: number;
  /** B. */
  readonly blockLength: number;
  /** L = ceil((P + G) / B) * B: the prompt is not padded, so its tail shares a block with generated tokens. */
  readonly canvasLength: number;
  readonly numBlocks: number;
  /** floor(P / B): blocks before it hold only prompt tokens and are never decoded. */
  readonly firstBlock: number;
  /** S = min(steps, floor(G / minimalTopk)): denoising steps per block at most. */
  readonly steps: number;
  /** Tokens the fallback commits at step k: floor(B/S) + (k < B % S ? 1 : 0). Sums to B. */
  readonly schedule: readonly number[];
}

/** HF `_get_num_transfer_tokens(block_length, steps)`. */
export function transferSchedule(blockLength: number, steps: number): number[] {
  const base = Math.floor(blockLength / steps);
  const extra = blockLength % steps;
  return Array.from({ length: steps }, (_, k) => base + (k < extra ? 1 : 0));
}

/** Lays out the canvas. Arguments must already be validated (positive integers, S >= 1). */
export function planLayout(
  promptLength: number,
  maxTokens: number,
  blockLength: number,
  steps: number,
  minimalTopk: number,
): CanvasLayout {
  const numBlocks = Math.ceil((promptLength + maxTokens) / blockLength);
  const capped = Math.min(steps, Math.floor(maxTokens / minimalTopk));
  return {
    promptLength,
    maxTokens,
    blockLength,
    canvasLength: numBlocks * blockLength,
    numBlocks,
    firstBlock: Math.floor(promptLength / blockLength),
    steps: capped,
    schedule: transferSchedule(blockLength, capped),
  };
}
