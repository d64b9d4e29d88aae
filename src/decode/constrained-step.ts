/**
 * One denoising step under a grammar (structured output). The grammar reads tokens left to right, so the block is
 * committed as a run from its frontier, the first masked position:
 * 1. The frontier commits the best token the grammar allows there: the unconstrained candidate distribution with
 *    every disallowed token removed (greedy: the most probable allowed token; sampling: a draw from the masked,
 *    tempered, top-k/top-p filtered distribution with the position's own uniform). Every step makes progress.
 * 2. Each following position joins the run while its unconstrained candidate is confident (probability above the
 *    threshold) and the grammar accepts it after the run so far, or, failing that, while the grammar allows exactly
 *    one token there (a forced token, such as the punctuation and keys of a JSON schema: any decoder under the
 *    grammar would commit it; its confidence is reported as 1). The first position that fails both ends the run; it
 *    and everything after it stay masked and are predicted again by the next forward, which sees the run.
 * 3. Once the grammar has accepted EOS (its only stop token) the text is complete, and once the run reaches the end
 *    of the requested length nothing more is generated: the block's remaining masks become EOS without a commit.
 * The canvas before the frontier was accepted in order, so a block boundary changes nothing: the next block's first
 * masked position is the frontier. The commit rule (strategy) does not apply; the threshold does.
 */
import { allows, type TokenConstraint } from './constraint.ts';
import type { StepEvent } from './events.ts';
import type { ActiveRows } from './forwarder.ts';
import type { DecodePlan } from './options.ts';
import { RowSampler } from './sampling.ts';
import { tokenLogprob, type StepOutcome, type StepRunner } from './step.ts';

export class ConstrainedStep {
  private readonly sampler = new RowSampler();
  private scratch = new Float32Array(0);

  constructor(
    private readonly plan: DecodePlan,
    private readonly candidates: StepRunner,
    private readonly constraint: TokenConstraint,
    private readonly vocabSize: number,
  ) {}

  async run(
    canvas: Int32Array,
    block: number,
    step: number,
    rows: ActiveRows,
  ): Promise<StepOutcome> {
    const { layout, maskId, eosId, threshold } = this.plan;
    const B = layout.blockLength;
    const P = layout.promptLength;
    const end = P + layout.maxTokens;
    const c = this.candidates.candidates(canvas, block, rows);
    const event: StepEvent = { type: 'step', block, step, committed: [], masked: [] };
    let eosCommitted = false;
    const commit = (i: number, token: number, confidence: number) => {
      canvas[c.start + i] = token;
      event.committed.push({
        index: c.start + i - P,
        token,
        confidence,
        ...(this.plan.logprobs !== null
          ? { logprob: tokenLogprob(c.dist, i, token, this.plan.logprobs) }
          : {}),
      });
      eosCommitted ||= token === eosId;
    };
    let i = c.masked.indexOf(1);
    if (i >= 0 && c.start + i < end && !this.constraint.isTerminated()) {
      const mask = await this.constraint.allowed();
      const pick = this.frontier(rows, i, mask, c.draws[i]);
      if (!this.constraint.accept(pick.token))
        throw new Error(`the grammar refused token ${pick.token}, which its mask allowed`);
      commit(i++, pick.token, pick.prob);
      while (i < B && c.masked[i] && c.start + i < end && !this.constraint.isTerminated()) {
        if (c.conf[i] > threshold && this.constraint.accept(c.tokens[i])) {
          commit(i, c.tokens[i], c.conf[i]);
        } else {
          // Not a confident accepted token: the run goes on only through a token the grammar forces.
          const forced = onlyAllowed(await this.constraint.allowed());
          if (forced < 0 || !this.constraint.accept(forced)) break;
          commit(i, forced, 1);
        }
        i++;
      }
    }
    const complete = this.constraint.isTerminated() || c.start + i >= end;
    for (let j = 0; j < B; j++) {
      if (canvas[c.start + j] !== maskId) continue;
      if (complete) canvas[c.start + j] = eosId;
      else event.masked.push(c.start + j - P);
    }
    return { event, eosCommitted };
  }

  /** The frontier's token among the allowed ones, and its probability. */
  private frontier(
    { out, row }: ActiveRows,
    i: number,
    mask: Int32Array,
    u: number,
  ): { token: number; prob: number } {
    const V = this.vocabSize;
    const logits = (out.logits as Float32Array).subarray((row + i) * V, (row + i + 1) * V);
    if (this.plan.source === 'greedy') {
      // The head is sorted by logit (ties to the lower id): its first allowed entry is the allowed argmax.
      const { k, ids, probs } = out.topk;
      for (let j = (row + i) * k; j < (row + i + 1) * k; j++)
        if (allows(mask, ids[j])) return { token: ids[j], prob: probs[j] };
      return greedyAllowed(logits, mask);
    }
    if (this.scratch.length < V) this.scratch = new Float32Array(V);
    const masked = this.scratch.subarray(0, V);
    for (let t = 0; t < V; t++) masked[t] = allows(mask, t) ? logits[t] : -Infinity;
    return this.sampler.sample(masked, null, this.plan.sampling, u);
  }
}

/** The one token the mask allows, or -1 when it allows none or several. */
export function onlyAllowed(mask: Int32Array): number {
  let found = -1;
  for (let w = 0; w < mask.length; w++) {
    const word = mask[w];
    if (word === 0) continue;
    if (found >= 0 || (word & (word - 1)) !== 0) return -1;
    found = w * 32 + (31 - Math.clz32(word));
  }
  return found;
}

/** The most probable allowed token (ties to the lower id) and its full-vocabulary softmax probability. */
function greedyAllowed(logits: Float32Array, mask: Int32Array): { token: number; prob: number } {
  let best = -1;
  let max = -Infinity;
  for (let t = 0; t < logits.length; t++) {
    max = Math.max(max, logits[t]);
    if (allows(mask, t) && (best < 0 || logits[t] > logits[best])) best = t;
  }
  if (best < 0) throw new Error('the grammar allows no token');
  let z = 0;
  for (let t = 0; t < logits.length; t++) z += Math.exp(logits[t] - max);
  return { token: best, prob: Math.fround(Math.exp(logits[best] - max) / z) };
}
