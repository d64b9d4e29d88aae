/** The graph's output side, for test runners: a top-k head and optional logits from float64 logits rows. */
import type { ForwardOutput } from '../runner.ts';

/**
 * Rounds logits to float32 first (what a graph hands back), then computes the fp32 softmax from those values in
 * float64, so probabilities agree with what a sampler recomputes from the returned logits. Ties in the head go
 * to the lower id.
 */
export function headOutput(
  logits: Float64Array,
  rows: number,
  vocab: number,
  k: number,
  wantLogits: boolean,
): ForwardOutput {
  const f32 = Float32Array.from(logits);
  const topk = {
    k,
    logits: new Float32Array(rows * k),
    probs: new Float32Array(rows * k),
    ids: new Int32Array(rows * k),
  };
  const order = Array.from({ length: vocab }, (_, i) => i);
  for (let r = 0; r < rows; r++) {
    const row = f32.subarray(r * vocab, (r + 1) * vocab);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let z = 0;
    for (const v of row) z += Math.exp(v - max);
    order.sort((a, b) => row[b] - row[a] || a - b);
    for (let j = 0; j < k; j++) {
      const t = order[j];
      topk.ids[r * k + j] = t;
      topk.logits[r * k + j] = row[t];
      topk.probs[r * k + j] = Math.fround(Math.exp(row[t] - max) / z);
    }
  }
  return wantLogits ? { topk, logits: f32 } : { topk };
}
