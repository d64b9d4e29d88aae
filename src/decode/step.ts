/**
 * One denoising step of the active block (docs/decode-algorithm.md §3): candidates for every masked position,
 * the algorithm's selection topped up to the step's quota, then the commit into the canvas.
 */
import { topUp } from './algorithms/rank.ts';
import type { StepDistributions, StepView } from './algorithms/types.ts';
import type { StepEvent, TokenLogprob } from './events.ts';
import type { ActiveRows } from './forwarder.ts';
import type { DecodePlan } from './options.ts';
import { Xoshiro128 } from './prng.ts';
import { RowSampler } from './sampling.ts';

export interface StepOutcome {
  readonly event: StepEvent;
  /** Some committed token is EOS (the eosEarlyStop trigger). */
  readonly eosCommitted: boolean;
}

/** One step's candidates (see StepRunner.candidates). */
export interface Candidates {
  /** Absolute canvas position of the block's first offset. */
  readonly start: number;
  readonly masked: Uint8Array;
  readonly maskedCount: number;
  readonly dist: StepDistributions;
  readonly tokens: Int32Array;
  readonly conf: Float64Array;
  readonly draws: Float64Array;
}

export class StepRunner {
  private readonly sampler = new RowSampler();
  /** Draw order: one uniform per masked position, ascending position, step after step. Greedy draws none. */
  private readonly rng: Xoshiro128 | null;

  constructor(
    private readonly plan: DecodePlan,
    private readonly vocabSize: number,
  ) {
    this.rng = plan.source === 'greedy' ? null : new Xoshiro128(plan.seed);
  }

  run(canvas: Int32Array, block: number, step: number, rows: ActiveRows): StepOutcome {
    const { layout, maskId, eosId } = this.plan;
    const B = layout.blockLength;
    const { start, masked, maskedCount, dist, tokens, conf } = this.candidates(canvas, block, rows);
    const view: StepView = {
      block,
      step,
      start,
      size: B,
      masked,
      maskedCount,
      tokens,
      conf,
      quota: Math.min(layout.schedule[step], maskedCount),
      threshold: this.plan.threshold,
      dist,
    };
    const pick = this.plan.algorithm.select(view);
    topUp(pick, view);
    const P = layout.promptLength;
    const event: StepEvent = { type: 'step', block, step, committed: [], masked: [] };
    let eosCommitted = false;
    for (let i = 0; i < B; i++) {
      if (!masked[i]) continue;
      if (pick[i]) {
        // A committed mask id leaves the position masked, as in HF (x == mask is what counts).
        canvas[start + i] = tokens[i];
        event.committed.push({
          index: start + i - P,
          token: tokens[i],
          confidence: conf[i],
          ...(this.plan.logprobs !== null
            ? { logprob: tokenLogprob(dist, i, tokens[i], this.plan.logprobs) }
            : {}),
        });
        eosCommitted ||= tokens[i] === eosId;
      }
      if (canvas[start + i] === maskId) event.masked.push(start + i - P);
    }
    return { event, eosCommitted };
  }

  /**
   * The active block's masked positions and one candidate (token, confidence) per masked position, in ascending
   * position (which fixes the sampler's draw order); `draws` keeps each position's uniform (NaN for greedy).
   */
  candidates(canvas: Int32Array, block: number, rows: ActiveRows): Candidates {
    const B = this.plan.layout.blockLength;
    const start = block * B;
    const masked = new Uint8Array(B);
    let maskedCount = 0;
    for (let i = 0; i < B; i++) {
      if (canvas[start + i] !== this.plan.maskId) continue;
      masked[i] = 1;
      maskedCount++;
    }
    const dist = this.distributions(rows, B);
    const tokens = new Int32Array(B).fill(-1);
    const conf = new Float64Array(B).fill(-Infinity);
    const draws = new Float64Array(B).fill(NaN);
    for (let i = 0; i < B; i++) if (masked[i]) this.candidate(rows, dist, i, tokens, conf, draws);
    return { start, masked, maskedCount, dist, tokens, conf, draws };
  }

  private distributions({ out, row }: ActiveRows, B: number): StepDistributions {
    const { k } = out.topk;
    const V = this.vocabSize;
    return {
      k,
      probs: out.topk.probs.subarray(row * k, (row + B) * k),
      ids: out.topk.ids.subarray(row * k, (row + B) * k),
      vocabSize: V,
      logits: out.logits?.subarray(row * V, (row + B) * V),
    };
  }

  /** Greedy reads the head (its probs are the fp32 full-vocabulary softmax); sampling draws one uniform. */
  private candidate(
    rows: ActiveRows,
    dist: StepDistributions,
    i: number,
    tokens: Int32Array,
    conf: Float64Array,
    draws: Float64Array,
  ): void {
    const { k } = dist;
    if (this.rng === null) {
      tokens[i] = dist.ids[i * k];
      conf[i] = dist.probs[i * k];
      return;
    }
    const u = this.rng.nextFloat();
    draws[i] = u;
    const pick =
      this.plan.source === 'head'
        ? this.sampler.sample(
            rows.out.topk.logits.subarray((rows.row + i) * k, (rows.row + i + 1) * k),
            dist.ids.subarray(i * k, (i + 1) * k),
            this.plan.sampling,
            u,
          )
        : this.sampler.sample(
            (dist.logits as Float32Array).subarray(i * this.vocabSize, (i + 1) * this.vocabSize),
            null,
            this.plan.sampling,
            u,
          );
    tokens[i] = pick.token;
    conf[i] = pick.prob;
  }
}

/** OpenAI reports a probability that underflows as this, not as -Infinity (which JSON cannot carry). */
const LOGPROB_FLOOR = -9999;
const ln = (p: number) => Math.max(LOGPROB_FLOOR, Math.log(p));

/**
 * Row i's log-probability of `token` and its `alternatives` most probable tokens, from the head (its probs are the
 * fp32 full-vocabulary softmax). A sampled token outside the head only occurs when the whole row was read, so its
 * log-probability comes from those logits (log-softmax).
 */
export function tokenLogprob(
  dist: StepDistributions,
  i: number,
  token: number,
  alternatives: number,
): TokenLogprob {
  const { k, ids, probs } = dist;
  const top: TokenLogprob['top'] = [];
  for (let j = 0; j < alternatives; j++)
    top.push({ token: ids[i * k + j], logprob: ln(probs[i * k + j]) });
  for (let j = 0; j < k; j++)
    if (ids[i * k + j] === token) return { logprob: ln(probs[i * k + j]), top };
  if (dist.logits) {
    const row = dist.logits.subarray(i * dist.vocabSize, (i + 1) * dist.vocabSize);
    let max = -Infinity;
    for (let v = 0; v < row.length; v++) max = Math.max(max, row[v]);
    let sum = 0;
    for (let v = 0; v < row.length; v++) sum += Math.exp(row[v] - max);
    return { logprob: Math.max(LOGPROB_FLOOR, row[token] - max - Math.log(sum)), top };
  }
  // Unreachable with the loop's candidate sources; the head's smallest probability bounds it from above.
  return { logprob: ln(probs[i * k + k - 1]), top };
}
