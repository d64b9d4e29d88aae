/**
 * `factor`: Fast-dLLM's factor-based parallel rule. With masked confidences sorted descending c_1 >= c_2 >= …,
 * commit the longest prefix of length n (at least 1) with c_r >= 1 − factor / (r + 1) for every r <= n: the more
 * tokens decided together, the more confident each must be.
 * Source: NVlabs/Fast-dLLM `llada/generate.py` and inclusionAI/dInfer `parallel_strategy.py`
 * `get_transfer_index_dynamic` (default factor 1). Those copies also commit everything when only the last
 * candidate fails (an off-by-one in their loop exit); this one keeps the documented rule.
 */
import { numberParam, rankMasked } from './rank.ts';
import type { AlgorithmFactory, AlgorithmParams, StepView } from './types.ts';

function selectWith(factor: number) {
  return function select(view: StepView): Uint8Array {
    const pick = new Uint8Array(view.size);
    const ranked = rankMasked(view);
    for (let r = 0; r < ranked.length; r++) {
      // Rank r + 1 (1-based) needs c >= 1 - factor / (r + 2); the first is always taken.
      if (r > 0 && view.conf[ranked[r]] < 1 - factor / (r + 2)) break;
      pick[ranked[r]] = 1;
    }
    return pick;
  };
}

export const factor: AlgorithmFactory = {
  name: 'factor',
  source:
    'NVlabs/Fast-dLLM llada/generate.py; inclusionAI/dInfer parallel_strategy.py get_transfer_index_dynamic',
  params: ['factor'],
  create(params: AlgorithmParams) {
    const f = numberParam(params, 'factor', 1, { lo: 0, hi: 1e6 });
    return { name: 'factor', needsLogits: false, select: selectWith(f) };
  },
};
