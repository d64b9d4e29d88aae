/** Test helper: a StepView from a list of confidences (null = not masked). */
import type { StepView } from '../algorithms/types.ts';

export interface ViewOptions {
  quota?: number;
  threshold?: number;
  /** Head probabilities per offset (k columns); defaults to [conf, rest spread over k−1]. */
  probs?: number[][];
  logits?: Float32Array;
  vocabSize?: number;
}

export function view(conf: (number | null)[], opts: ViewOptions = {}): StepView {
  const size = conf.length;
  const masked = Uint8Array.from(conf, (c) => (c === null ? 0 : 1));
  const k = opts.probs?.[0]?.length ?? 4;
  const probs = new Float32Array(size * k);
  conf.forEach((c, i) => {
    const row = opts.probs?.[i] ?? [c ?? 1, ...new Array(k - 1).fill((1 - (c ?? 1)) / (k - 1))];
    row.forEach((p, j) => (probs[i * k + j] = p));
  });
  return {
    block: 0,
    step: 0,
    start: 0,
    size,
    masked,
    maskedCount: masked.reduce((a, b) => a + b, 0),
    tokens: Int32Array.from(conf, (_, i) => i),
    conf: Float64Array.from(conf, (c) => c ?? -Infinity),
    quota: opts.quota ?? 1,
    threshold: opts.threshold ?? 0.9,
    dist: {
      k,
      probs,
      ids: Int32Array.from({ length: size * k }, (_, i) => i % k),
      vocabSize: opts.vocabSize ?? 16,
      logits: opts.logits,
    },
  };
}

export const picked = (pick: Uint8Array): number[] => [...pick.keys()].filter((i) => pick[i]);
