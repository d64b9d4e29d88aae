/**
 * @module
 * Exact-match accuracy of a served model through its OpenAI-compatible chat API: each task example is one
 * `POST /v1/chat/completions` (greedy, the given threshold and strategy), the answer is the message content,
 * and forwards come from the response's `diffusion` block. This measures the whole served stack (template,
 * tokenizer, decode loop, runtime, HTTP), not just the model: what `npm start` users get.
 *
 * The chat route takes no `tools` yet, so an example whose stages offer tools (the tool task) renders each stage
 * locally with the model's chat template and sends the token ids to `POST /v1/completions`; every stage's text
 * must be exact.
 */
import type { TextCodec } from '../../src/model/text-codec.ts';
import { tally, type EvalResult, type ExampleOutcome } from '../../training/evaluate.ts';
import { stagePromptIds } from '../../training/examples.ts';
import { stagesOf, type TaskExample } from '../../training/tasks.ts';

export interface ApiTarget {
  /** Base URL up to and including `/v1`, e.g. `http://127.0.0.1:8787/v1`. */
  baseUrl: string;
  apiKey: string;
  model: string;
  /** Defaults to the global fetch; tests pass an in-process one. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

export interface ApiEvalOptions {
  algorithm: string;
  /** Omitted: the server's default. */
  threshold?: number;
  maxTokens: number;
  /** The served model's tokenizer and template, to render multi-stage (tool) examples locally. */
  codec?: TextCodec;
}

/** One failed HTTP call: stops the evaluation with the server's own error message (never the key). */
export class ApiEvalError extends Error {}

interface ChatResponse {
  choices?: { message?: { content?: string | null }; text?: string; finish_reason?: string }[];
  usage?: { completion_tokens?: number };
  diffusion?: { forwards?: number };
  error?: { message?: string };
}

export interface ApiAnswer {
  text: string;
  finishReason: string;
  completionTokens: number;
  forwards: number;
}

/** One greedy request to `route` (chat/completions or completions) with the settings of `o`. */
async function post(
  target: ApiTarget,
  route: 'chat/completions' | 'completions',
  input: Record<string, unknown>,
  o: ApiEvalOptions,
): Promise<ApiAnswer> {
  const f = target.fetch ?? fetch;
  const body = {
    model: target.model,
    ...input,
    temperature: 0,
    max_tokens: o.maxTokens,
    strategy: o.algorithm,
    ...(o.threshold === undefined ? {} : { threshold: o.threshold }),
  };
  const res = await f(`${target.baseUrl.replace(/\/$/, '')}/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${target.apiKey}` },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as ChatResponse;
  if (!res.ok)
    throw new ApiEvalError(
      `POST /${route} → ${res.status}: ${json.error?.message ?? res.statusText}`,
    );
  const choice = json.choices?.[0];
  const text = route === 'completions' ? choice?.text : choice?.message?.content;
  if (!choice || text === undefined || typeof json.diffusion?.forwards !== 'number')
    throw new ApiEvalError(
      `the response has no choices[0] text or no diffusion.forwards: not an Unmask server?`,
    );
  return {
    text: text ?? '',
    finishReason: choice.finish_reason ?? '',
    completionTokens: json.usage?.completion_tokens ?? 0,
    forwards: json.diffusion.forwards,
  };
}

/** The chat route with one user message. */
export function chatAnswer(
  target: ApiTarget,
  prompt: string,
  o: ApiEvalOptions,
): Promise<ApiAnswer> {
  return post(target, 'chat/completions', { messages: [{ role: 'user', content: prompt }] }, o);
}

/** The completions route with a token-id prompt (a conversation rendered locally). */
export function completionAnswer(
  target: ApiTarget,
  promptIds: number[],
  o: ApiEvalOptions,
): Promise<ApiAnswer> {
  return post(target, 'completions', { prompt: promptIds }, o);
}

/**
 * Same result shape as evaluateExamples. Correct means the content is exactly the answer and the model stopped
 * by itself. TPF here is completion tokens ÷ forwards, so tokensPerForward and outputTokensPerForward agree;
 * ms per answer is the HTTP round trip.
 */
export function evaluateViaApi(
  target: ApiTarget,
  examples: TaskExample[],
  o: ApiEvalOptions,
): Promise<EvalResult> {
  return tally(examples, async (ex) => {
    if (!ex.stages) {
      const r = await chatAnswer(target, ex.prompt, o);
      return {
        correct: r.text === ex.answer && r.finishReason === 'stop',
        got: () => r.text,
        forwards: r.forwards,
        committedTokens: r.completionTokens,
        outputTokens: r.completionTokens,
      };
    }
    const codec = o.codec;
    if (!codec)
      throw new ApiEvalError(
        `task ${ex.task} has tool turns: evaluating it through the API needs the model's chat template`,
      );
    const outcome: ExampleOutcome = {
      correct: true,
      got: () => '',
      forwards: 0,
      committedTokens: 0,
      outputTokens: 0,
    };
    for (const stage of stagesOf(ex)) {
      const r = await completionAnswer(target, stagePromptIds(codec, stage), o);
      outcome.forwards += r.forwards;
      outcome.committedTokens += r.completionTokens;
      outcome.outputTokens += r.completionTokens;
      if (r.text !== stage.answer || r.finishReason !== 'stop') {
        Object.assign(outcome, { correct: false, got: () => r.text, expected: stage.answer });
        break;
      }
    }
    return outcome;
  });
}
