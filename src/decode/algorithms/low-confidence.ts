/**
 * `low_confidence`, the default: the official LLaDA2.0 rule (docs/decode-algorithm.md §3 items 5–6). Commit every masked
 * position whose confidence is strictly above the threshold; when fewer than the step's quota qualify, commit
 * the quota's top positions by confidence instead.
 * Source: inclusionAI/LLaDA2.0-mini `modeling_llada2_moe.py` `generate()` (copy in ZHZisZZ/dllm); SGLang
 * `dllm/algorithm/low_confidence.py` is the same rule with quota 1.
 */
import { rankMasked } from './rank.ts';
import type { AlgorithmFactory, StepView } from './types.ts';

function select(view: StepView): Uint8Array {
  const pick = new Uint8Array(view.size);
  let high = 0;
  for (let i = 0; i < view.size; i++) {
    if (view.masked[i] && view.conf[i] > view.threshold) {
      pick[i] = 1;
      high++;
    }
  }
  // `>=`: with quota 0 (steps > B) an empty high set is committed as is, exactly like HF.
  if (high >= view.quota) return pick;
  pick.fill(0);
  for (const i of rankMasked(view).slice(0, view.quota)) pick[i] = 1;
  return pick;
}

export const lowConfidence: AlgorithmFactory = {
  name: 'low_confidence',
  source: 'LLaDA2.0 modeling_llada2_moe.py generate(); sglang dllm/algorithm/low_confidence.py',
  params: [],
  create: () => ({ name: 'low_confidence', needsLogits: false, select }),
};
