/**
 * @module
 * Expert selection of a LLaDA2 MoE layer (docs/model-graph.md §3, as the official code and
 * src/export/moe.ts do it), on the CPU: choice = sigmoid score + expert_bias (float32 adds); each group scores
 * the sum of its top-2 choices; the best topk_group groups stay; the top-k choices among their experts are
 * picked (ties to the lower index). The bias only steers selection; the weights use the unbiased scores.
 *
 * Balance without an auxiliary loss (Ling 2.0 / DeepSeek-V3): after each step every expert's bias moves by γ
 * towards the mean load, bias_e += γ · sign(mean load − load_e).
 */

export interface RouterShape {
  experts: number;
  expertsPerTok: number;
  groups: number;
  topkGroup: number;
}

/** Indices of the k largest values (ties to the lower index), among those `allowed` admits. */
function topK(values: ArrayLike<number>, k: number, allowed?: (i: number) => boolean): number[] {
  const picked: number[] = [];
  const taken = new Uint8Array(values.length);
  for (let n = 0; n < k; n++) {
    let best = -1;
    for (let i = 0; i < values.length; i++) {
      if (taken[i] || (allowed && !allowed(i))) continue;
      if (best < 0 || values[i] > values[best]) best = i;
    }
    if (best < 0) break;
    taken[best] = 1;
    picked.push(best);
  }
  return picked;
}

/**
 * The 0/1 selection mask [rows × experts] for sigmoid scores [rows × experts]; adds each row's chosen experts
 * to `loads` when given.
 */
export function selectExperts(
  scores: Float32Array,
  bias: Float32Array,
  r: RouterShape,
  loads?: Float64Array,
): Float32Array {
  const E = r.experts;
  const rows = scores.length / E;
  const size = E / r.groups;
  const mask = new Float32Array(scores.length);
  const choice = new Float32Array(E);
  const groupScore = new Float32Array(r.groups);
  for (let n = 0; n < rows; n++) {
    for (let e = 0; e < E; e++) choice[e] = scores[n * E + e] + bias[e];
    let allowed: ((e: number) => boolean) | undefined;
    if (r.groups > 1) {
      for (let g = 0; g < r.groups; g++) {
        const members = choice.subarray(g * size, (g + 1) * size);
        const [i, j] = topK(members, 2);
        groupScore[g] = members[i] + members[j];
      }
      const keep = new Set(topK(groupScore, r.topkGroup));
      allowed = (e) => keep.has(Math.floor(e / size));
    }
    for (const e of topK(choice, r.expertsPerTok, allowed)) {
      mask[n * E + e] = 1;
      if (loads) loads[e]++;
    }
  }
  return mask;
}

/** bias_e += γ · sign(mean − load_e), in place. */
export function updateExpertBias(
  bias: Float32Array,
  loads: ArrayLike<number>,
  gamma: number,
): void {
  let total = 0;
  for (let e = 0; e < bias.length; e++) total += loads[e];
  const mean = total / bias.length;
  for (let e = 0; e < bias.length; e++) bias[e] += gamma * Math.sign(mean - loads[e]);
}
