/**
 * `entropy_threshold`: SGLang's EntropyThreshold (from d3LLM). Rank masked positions by the entropy of their
 * predicted distribution (T = 1, natural log, H = −Σ p·ln(p + 1e-8)); always commit the lowest, and every other
 * one whose entropy is below `max_entropy` (SGLang's `threshold`, default 0.95).
 * Source: sgl-project/sglang `python/sglang/srt/dllm/algorithm/entropy_threshold.py`.
 *
 * Entropy needs the whole distribution. With `exact: true` the loop fetches full logits and it is exact.
 * Otherwise it is estimated from the top-k head: the k listed terms plus the remaining mass r = 1 − Σp spread
 * over tokens no more likely than the k-th (−r·ln p_k). That is a lower bound, exact when r = 0, and close when
 * the head holds almost all the mass (the case that matters near a commit).
 */
import { booleanParam, numberParam } from './rank.ts';
import type { AlgorithmFactory, AlgorithmParams, StepDistributions, StepView } from './types.ts';

const EPS = 1e-8;

function headEntropy(dist: StepDistributions, row: number): number {
  let h = 0;
  let mass = 0;
  for (let j = 0; j < dist.k; j++) {
    const p = dist.probs[row * dist.k + j];
    h -= p * Math.log(p + EPS);
    mass += p;
  }
  const rest = Math.max(0, 1 - mass);
  return h - rest * Math.log(dist.probs[row * dist.k + dist.k - 1] + EPS);
}

function exactEntropy(logits: Float32Array, vocab: number, row: number): number {
  let max = -Infinity;
  for (let v = row * vocab; v < (row + 1) * vocab; v++) max = Math.max(max, logits[v]);
  let z = 0;
  for (let v = row * vocab; v < (row + 1) * vocab; v++) z += Math.exp(logits[v] - max);
  let h = 0;
  for (let v = row * vocab; v < (row + 1) * vocab; v++) {
    const p = Math.exp(logits[v] - max) / z;
    h -= p * Math.log(p + EPS);
  }
  return h;
}

function selectWith(maxEntropy: number) {
  return function select(view: StepView): Uint8Array {
    const { dist } = view;
    const entropy = new Float64Array(view.size).fill(Infinity);
    const order: number[] = [];
    for (let i = 0; i < view.size; i++) {
      if (!view.masked[i]) continue;
      entropy[i] = dist.logits
        ? exactEntropy(dist.logits, dist.vocabSize, i)
        : headEntropy(dist, i);
      order.push(i);
    }
    order.sort((a, b) => entropy[a] - entropy[b]); // stable: ties keep the lower position
    const pick = new Uint8Array(view.size);
    order.forEach((i, r) => {
      if (r === 0 || entropy[i] < maxEntropy) pick[i] = 1;
    });
    return pick;
  };
}

export const entropyThreshold: AlgorithmFactory = {
  name: 'entropy_threshold',
  source:
    'sgl-project/sglang python/sglang/srt/dllm/algorithm/entropy_threshold.py EntropyThreshold',
  params: ['max_entropy', 'exact'],
  create(params: AlgorithmParams) {
    const maxEntropy = numberParam(params, 'max_entropy', 0.95, { lo: 0, hi: 1e6 });
    const exact = booleanParam(params, 'exact', false);
    return { name: 'entropy_threshold', needsLogits: exact, select: selectWith(maxEntropy) };
  },
};
