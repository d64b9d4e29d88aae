/**
 * `hierarchy`: dInfer's HierarchyDecoder. In every contiguous run of masked positions, commit the run's most
 * confident position(s) (all ties) when above `low_threshold`; also commit anything above the threshold, and
 * always the global top-1. Spreading commits across runs keeps neighbouring tokens from being decided together.
 * Source: inclusionAI/dInfer `python/dinfer/decoding/parallel_strategy.py` `HierarchyDecoder.get_transfer_index`
 * (default low_threshold 0.4). dInfer draws with Gumbel noise at T > 0; here the loop's sampler gives the tokens.
 */
import { numberParam } from './rank.ts';
import type { AlgorithmFactory, AlgorithmParams, StepView } from './types.ts';

function selectWith(lowThreshold: number) {
  return function select(view: StepView): Uint8Array {
    const { size, masked, conf } = view;
    const pick = new Uint8Array(size);
    let i = 0;
    while (i < size) {
      if (!masked[i]) {
        i++;
        continue;
      }
      let end = i;
      let best = -Infinity;
      while (end < size && masked[end]) best = Math.max(best, conf[end++]);
      for (let j = i; j < end; j++) if (conf[j] === best && conf[j] > lowThreshold) pick[j] = 1;
      i = end;
    }
    let top = -1;
    for (let j = 0; j < size; j++) {
      if (!masked[j]) continue;
      if (conf[j] > view.threshold) pick[j] = 1;
      if (top < 0 || conf[j] > conf[top]) top = j; // first maximum: torch.argmax order
    }
    if (top >= 0) pick[top] = 1;
    return pick;
  };
}

export const hierarchy: AlgorithmFactory = {
  name: 'hierarchy',
  source: 'inclusionAI/dInfer python/dinfer/decoding/parallel_strategy.py HierarchyDecoder',
  params: ['low_threshold'],
  create(params: AlgorithmParams) {
    const low = numberParam(params, 'low_threshold', 0.4, { lo: 0, hi: 1, loInclusive: true });
    return { name: 'hierarchy', needsLogits: false, select: selectWith(low) };
  },
};
