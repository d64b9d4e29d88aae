/**
 * @module
 * Exact-match accuracy of a model on task examples with the real decode loop (src/decode generate()), plus the
 * parallelism it reached: tokens per forward (TPF), forwards and wall time per answer. Runtime-agnostic: it
 * takes any BlockRunner (the tfjs model while training, an ORT session over an exported package in benchmarks).
 * A multi-stage example (the tool task) is right when every stage's reply is exact; each stage continues the
 * conversation with the previous stage's expected reply, which is the model's own when that stage was right.
 * Its forwards and tokens are those of all the stages it ran.
 */
import { generate } from '../src/decode/index.ts';
import type { BlockRunner, DecodeOptions } from '../src/decode/index.ts';
import type { TextCodec } from '../src/model/text-codec.ts';
import { encodeExample } from './examples.ts';
import type { TaskExample } from './task.ts';

export interface EvalResult {
  examples: number;
  correct: number;
  accuracy: number;
  /** Committed tokens ÷ forwards over all examples (the decode loop's TPF, EOS fill inside decoded blocks included). */
  tokensPerForward: number;
  /** Output tokens (answer, `<|role_end|>`, EOS) ÷ forwards. */
  outputTokensPerForward: number;
  forwardsPerAnswer: number;
  msPerAnswer: number;
  /** Up to five wrong answers, for logs. */
  failures: { prompt: string; expected: string; got: string }[];
}

/** What one example's decode reports, for `tally`. */
export interface ExampleOutcome {
  correct: boolean;
  /** The decoded answer text, asked for only to log a failure. */
  got: () => string;
  /** What the failing stage should have said (default: the example's answer). */
  expected?: string;
  forwards: number;
  committedTokens: number;
  outputTokens: number;
}

/** Runs `one` over the examples in order, timing each, and sums the outcomes into an EvalResult. */
export async function tally(
  examples: TaskExample[],
  one: (ex: TaskExample) => Promise<ExampleOutcome>,
): Promise<EvalResult> {
  let correct = 0;
  let forwards = 0;
  let committed = 0;
  let output = 0;
  let ms = 0;
  const failures: EvalResult['failures'] = [];
  for (const ex of examples) {
    const started = performance.now();
    const r = await one(ex);
    ms += performance.now() - started;
    forwards += r.forwards;
    committed += r.committedTokens;
    output += r.outputTokens;
    if (r.correct) correct++;
    else if (failures.length < 5)
      failures.push({ prompt: ex.prompt, expected: r.expected ?? ex.answer, got: r.got() });
  }
  const n = examples.length;
  return {
    examples: n,
    correct,
    accuracy: n ? correct / n : 0,
    tokensPerForward: forwards ? committed / forwards : 0,
    outputTokensPerForward: forwards ? output / forwards : 0,
    forwardsPerAnswer: n ? forwards / n : 0,
    msPerAnswer: n ? ms / n : 0,
    failures,
  };
}

/** Greedy by default; `options` are the decode options to use (threshold, algorithm, block length, mode, ...). */
export function evaluateExamples(
  runner: BlockRunner,
  codec: TextCodec,
  examples: TaskExample[],
  options: DecodeOptions,
): Promise<EvalResult> {
  return tally(examples, async (ex) => {
    const outcome: ExampleOutcome = {
      correct: true,
      got: () => '',
      forwards: 0,
      committedTokens: 0,
      outputTokens: 0,
    };
    for (const enc of encodeExample(codec, ex)) {
      const result = await generate(runner, enc.prompt, { temperature: 0, ...options });
      outcome.forwards += result.stats.forwards;
      outcome.committedTokens += result.stats.committedTokens;
      outcome.outputTokens += result.tokens.length;
      const exact =
        result.tokens.length === enc.target.length &&
        result.tokens.every((t, i) => t === enc.target[i]);
      if (!exact) {
        outcome.correct = false;
        outcome.got = () => codec.decode(result.tokens);
        outcome.expected = codec.decode(enc.target);
        break;
      }
    }
    return outcome;
  });
}
