/**
 * The block-diffusion decode loop of LLaDA2.0 (docs/decode-algorithm.md §2–5), streaming, in two exact modes.
 * Blocks are counted from absolute position 0; the first decode block is floor(P/B); each runs at most S steps
 * and ends when it has no masks. A block whose generated part holds EOS ends the generation.
 */
import type {
  BlockEvent,
  DecodeEvent,
  DecodeResult,
  FinishReason,
  TokenLogprob,
} from './events.ts';
import { cachedForwarder } from './forward-cached.ts';
import { referenceForwarder } from './forward-reference.ts';
import type { DecodeOptions, DecodePlan } from './options.ts';
import { blockOutput, earlyStopEnd } from './output.ts';
import { planDecode } from './plan.ts';
import type { BlockRunner } from './runner.ts';
import { StatsRecorder } from './stats.ts';
import { ConstrainedStep } from './constrained-step.ts';
import type { TokenConstraint } from './constraint.ts';
import { StepRunner, type StepOutcome } from './step.ts';

/**
 * Decodes `promptIds` and yields step, block and done events. Options are validated before anything runs: a bad
 * one throws DecodeOptionsError from this call. Breaking out of the iteration stops the loop before its next
 * forward; so does `options.signal` (the result then ends with finish reason 'aborted').
 *
 * @example
 * for await (const ev of decode(runner, ids, { maxTokens: 256, threshold: 0.95 })) {
 *   if (ev.type === 'block') send(ev.tokens);
 * }
 */
export function decode(
  runner: BlockRunner,
  promptIds: ArrayLike<number>,
  options: DecodeOptions = {},
): AsyncGenerator<DecodeEvent, void, undefined> {
  return run(runner, planDecode(runner.info, promptIds, options));
}

/** Runs `decode` to the end and returns its result. */
export async function generate(
  runner: BlockRunner,
  promptIds: ArrayLike<number>,
  options: DecodeOptions = {},
): Promise<DecodeResult> {
  for await (const ev of decode(runner, promptIds, options))
    if (ev.type === 'done') return ev.result;
  throw new Error('decode ended without a result');
}

async function* run(
  runner: BlockRunner,
  plan: DecodePlan,
): AsyncGenerator<DecodeEvent, void, undefined> {
  const { layout, maskId, eosId, signal } = plan;
  const { promptLength: P, blockLength: B } = layout;
  const canvas = new Int32Array(layout.canvasLength).fill(maskId);
  canvas.set(plan.prompt);
  const stats = new StatsRecorder();
  const deps = {
    runner,
    canvas,
    layout,
    wantLogits: plan.wantLogits,
    stats,
    prefixCache: plan.prefixCache,
  };
  const forwarder = plan.mode === 'cached' ? cachedForwarder(deps) : referenceForwarder(deps);
  const stepper = new StepRunner(plan, runner.info.vocabSize);
  let constraint: TokenConstraint | null = null;
  let constrained: ConstrainedStep | null = null;
  // A grammar step commits at least one token, so a block may take one step per position.
  const maxSteps = plan.constraint ? B : layout.steps;
  let output: number[] = [];
  let finish: FinishReason = 'length';
  // With logprobs: each generated position's log-probability at its (last) commit.
  const logprobAt: TokenLogprob[] = [];
  const blockEvent = (block: number, offset: number, tokens: number[]): BlockEvent =>
    plan.logprobs === null
      ? { type: 'block', block, offset, tokens }
      : {
          type: 'block',
          block,
          offset,
          tokens,
          logprobs: logprobAt.slice(offset, offset + tokens.length),
        };

  // The consumer's time between events is not the loop's.
  async function* emit(ev: DecodeEvent): AsyncGenerator<DecodeEvent, void, undefined> {
    stats.pause();
    yield ev;
    stats.resume();
  }

  try {
    if (plan.constraint) {
      constraint = await plan.constraint.start();
      constrained = new ConstrainedStep(plan, stepper, constraint, runner.info.vocabSize);
    }
    main: {
      if (forwarder.needsPrefill) {
        if (signal?.aborted) {
          finish = 'aborted';
          break main;
        }
        await stats.prefill(() => forwarder.prefill());
      }
      for (let block = layout.firstBlock; block < layout.numBlocks; block++) {
        const start = block * B;
        for (let step = 0; step < maxSteps; step++) {
          if (!canvas.subarray(start, start + B).includes(maskId)) break;
          if (signal?.aborted) {
            finish = 'aborted';
            break main;
          }
          const rows = await forwarder.step(block);
          if (step === 0) stats.blocks++;
          const { event, eosCommitted }: StepOutcome = constrained
            ? await constrained.run(canvas, block, step, rows)
            : stepper.run(canvas, block, step, rows);
          if (plan.logprobs !== null)
            for (const c of event.committed) if (c.logprob) logprobAt[c.index] = c.logprob;
          if (stats.forwards === stats.prefillForwards + 1)
            event.cachedPromptTokens = stats.cachedPromptTokens;
          stats.committedTokens += event.committed.length;
          yield* emit(event);
          const end =
            plan.eosEarlyStop && eosCommitted
              ? earlyStopEnd(canvas, layout, start + B, eosId, maskId)
              : null;
          if (end !== null) {
            // Output becomes x[P, end): usually this block's tail; empty when the EOS found is in the prompt.
            const full = Array.from(canvas.subarray(P, end));
            const fresh = full.slice(output.length);
            if (fresh.length > 0) yield* emit(blockEvent(block, output.length, fresh));
            output = full;
            finish = 'stop';
            break main;
          }
        }
        const cut = blockOutput(canvas, layout, block, eosId);
        yield* emit(blockEvent(block, output.length, cut.tokens));
        output.push(...cut.tokens);
        if (cut.eos) finish = 'stop';
        if (cut.eos || cut.eosInTail) break main;
      }
    }
    const result: DecodeResult = {
      tokens: output,
      finishReason: finish,
      seed: plan.seed,
      stats: stats.finish(output.length),
    };
    yield { type: 'done', result };
  } finally {
    forwarder.dispose();
    constraint?.dispose();
  }
}
