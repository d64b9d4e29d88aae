/**
 * One row's token draw (docs/decode-algorithm.md §4, HF `_sample_with_temperature_topk_topp`): divide by T (skipped at
 * T = 1), top-k filter, top-p filter, softmax, one multinomial draw. The confidence is the drawn token's
 * probability under that filtered, tempered distribution. Arithmetic is float64; the confidence is rounded to
 * float32, like the reference's fp32 softmax.
 */

export interface SamplingParams {
  /** > 0 here; T = 0 (greedy) never reaches the sampler. */
  readonly temperature: number;
  /** 0 = off. Ties with the k-th value are kept, as HF's `logits < kth` mask does. */
  readonly topK: number;
  /** 1 = off. Keeps the most probable tokens up to and including the first one that crosses p. */
  readonly topP: number;
}

export interface Pick {
  readonly token: number;
  readonly prob: number;
}

/** Reusable scratch, so a row over a large vocabulary allocates nothing. */
export class RowSampler {
  private weight = new Float64Array(0);

  /**
   * `values`: the row's logits, either the top-k head (`ids` given, sorted by logit descending) or the full
   * vocabulary (`ids` null: the index is the token id). `u` is one uniform in [0, 1).
   * The draw walks the kept tokens in ascending token id and picks the first whose running weight exceeds
   * u × total.
   */
  sample(values: Float32Array, ids: Int32Array | null, params: SamplingParams, u: number): Pick {
    const n = values.length;
    if (this.weight.length < n) this.weight = new Float64Array(n);
    const w = this.weight;
    const { temperature, topK, topP } = params;
    for (let i = 0; i < n; i++) w[i] = temperature === 1 ? values[i] : values[i] / temperature;
    const cut = topK > 0 && topK < n ? kthLargest(w, n, topK, ids !== null) : -Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) if (w[i] >= cut && w[i] > max) max = w[i];
    let total = 0;
    for (let i = 0; i < n; i++) {
      w[i] = w[i] >= cut ? Math.exp(w[i] - max) : 0;
      total += w[i];
    }
    if (topP < 1) nucleus(w, n, total, topP, ids);
    const { index, kept } = drawAscending(w, n, u, ids);
    return { token: id(ids, index), prob: Math.fround(w[index] / kept) };
  }
}

/** The k-th largest of w[0, n). The head is already sorted descending; the full vocabulary is sorted on a copy. */
function kthLargest(w: Float64Array, n: number, k: number, sorted: boolean): number {
  if (sorted) return w[k - 1];
  const copy = w.slice(0, n).sort();
  return copy[n - k];
}

const id = (ids: Int32Array | null, i: number): number => (ids === null ? i : ids[i]);

/**
 * HF top-p on weights w (unnormalised probabilities): sort descending, drop token r when the probability
 * before it exceeds p (the first token is always kept). Returns the kept total. Only tokens that can be in the
 * nucleus are sorted: once the tokens with weight >= c hold more than p of the mass, every lighter token
 * follows them in the order and is dropped.
 */
function nucleus(
  w: Float64Array,
  n: number,
  total: number,
  p: number,
  ids: Int32Array | null,
): void {
  let c = 1;
  for (;;) {
    let mass = 0;
    for (let i = 0; i < n; i++) if (w[i] >= c) mass += w[i];
    if (mass / total > p || c < 1e-300) break;
    c /= 16;
  }
  const cand: number[] = [];
  for (let i = 0; i < n; i++) if (w[i] >= c && w[i] > 0) cand.push(i);
  cand.sort((a, b) => w[b] - w[a] || id(ids, a) - id(ids, b));
  const keep = new Uint8Array(n);
  let before = 0;
  for (let r = 0; r < cand.length; r++) {
    if (r > 0 && before > p) break;
    keep[cand[r]] = 1;
    before += w[cand[r]] / total;
  }
  for (let i = 0; i < n; i++) if (!keep[i]) w[i] = 0;
}

/**
 * Inverse-CDF walk in ascending token id: the first kept token whose running weight exceeds u × total. The total
 * is summed in the same order, so the head and the full vocabulary give bit-identical draws for the same kept set.
 */
function drawAscending(
  w: Float64Array,
  n: number,
  u: number,
  ids: Int32Array | null,
): { index: number; kept: number } {
  // The head is ordered by logit: visit its few entries by id instead.
  const order =
    ids === null ? null : Array.from({ length: n }, (_, i) => i).sort((a, b) => ids[a] - ids[b]);
  const at = (r: number): number => (order === null ? r : order[r]);
  let kept = 0;
  for (let r = 0; r < n; r++) kept += w[at(r)];
  const target = u * kept;
  let acc = 0;
  let last = -1;
  for (let r = 0; r < n; r++) {
    const i = at(r);
    if (w[i] <= 0) continue;
    acc += w[i];
    last = i;
    if (acc > target) return { index: i, kept };
  }
  // Rounding can leave the target at the very top: the last kept token then takes it.
  return { index: last, kept };
}
