/**
 * @module
 * The float64 building blocks of the reference forward (reference-forward.ts), kept separate so each is
 * unit-tested against hand-computed values. Everything follows the official modeling_llada2_moe.py
 * (docs/model-graph.md §2–3), in float64 so the oracle's own rounding is negligible next to ORT's fp32.
 */

/** y = W·x for a row-major [rows, cols] weight (the HF Linear layout [out, in]). */
export function linear(
  w: ArrayLike<number>,
  rows: number,
  cols: number,
  x: ArrayLike<number>,
): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) s += w[base + c] * x[c];
    y[r] = s;
  }
  return y;
}

/** RMSNorm as in BailingMoeV2RMSNorm: x · 1/√(mean(x²) + eps) · w. */
export function rmsNorm(x: ArrayLike<number>, w: ArrayLike<number>, eps: number): Float64Array {
  const n = x.length;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[i] * x[i];
  const inv = 1 / Math.sqrt(ss / n + eps);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
  return y;
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Partial NeoX RoPE, in place, on the first `rotary` dims of one head vector; the rest pass through.
 * inv_freq[i] = theta^(-2i/rotary) for i < rotary/2, emb = cat(freqs, freqs), and rotate_half works inside
 * the rotary slice: x1 = x[0:half], x2 = x[half:rotary] → (x1·cos − x2·sin, x2·cos + x1·sin).
 * The official code computes inv_freq in fp32; float64 here is the exact value it approximates.
 */
export function applyRope(x: Float64Array, position: number, rotary: number, theta: number): void {
  const half = rotary / 2;
  for (let i = 0; i < half; i++) {
    const angle = position * theta ** (-(2 * i) / rotary);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    const a = x[i];
    const b = x[i + half];
    x[i] = a * c - b * s;
    x[i + half] = b * c + a * s;
  }
}

export interface RouterOptions {
  topK: number;
  nGroup: number;
  topkGroup: number;
  routedScalingFactor: number;
}

export interface Route {
  /** Chosen experts, best first. */
  experts: number[];
  /** Their combine weights (same order). */
  weights: number[];
}

/** Indices of the k largest values, best first; ties go to the lower index (torch.topk leaves it undefined). */
export function topKIndices(
  values: ArrayLike<number>,
  k: number,
  allowed?: (i: number) => boolean,
): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) if (!allowed || allowed(i)) idx.push(i);
  idx.sort((a, b) => values[b] - values[a] || a - b);
  return idx.slice(0, k);
}

/**
 * BailingMoeV2Gate routing for one token: s = sigmoid(logits); s' = s + expert_bias (selection only);
 * group score = sum of the top-2 s' in each group of E/n_group experts; keep the topk_group best groups; pick
 * the top-k experts by s' inside them. Weights are the UNBIASED s of the chosen experts, renormalised to sum 1
 * (+1e-20, as official) when k > 1 — whatever config.norm_topk_prob says (spec §8) — then × routed_scaling_factor.
 */
export function routeToken(
  logits: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  o: RouterOptions,
): Route {
  const n = logits.length;
  const s = Float64Array.from(logits, sigmoid);
  const biased = bias ? s.map((v, i) => v + bias[i]) : s;
  const groupSize = n / o.nGroup;
  const groupScores = new Float64Array(o.nGroup);
  for (let g = 0; g < o.nGroup; g++) {
    const members = biased.subarray(g * groupSize, (g + 1) * groupSize);
    // Official: topk(2) per group (a 1-expert group would make torch raise; we take what there is).
    groupScores[g] = topKIndices(members, 2).reduce((sum, i) => sum + members[i], 0);
  }
  const keep = new Set(topKIndices(groupScores, o.topkGroup));
  const experts = topKIndices(biased, o.topK, (e) => keep.has(Math.floor(e / groupSize)));
  let weights = experts.map((e) => s[e]);
  if (o.topK > 1) {
    const sum = weights.reduce((a, b) => a + b, 0) + 1e-20;
    weights = weights.map((w) => w / sum);
  }
  return { experts, weights: weights.map((w) => w * o.routedScalingFactor) };
}

/** Numerically stable softmax of one row. */
export function softmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

/** Block-causal visibility (spec §1.2): query i sees key j iff block(pos j) ≤ block(pos i). */
export function blockCausal(
  positions: number[],
  blockLength: number,
): (i: number, j: number) => boolean {
  return (i, j) => Math.floor(positions[j] / blockLength) <= Math.floor(positions[i] / blockLength);
}
