/**
 * @module
 * Exact-match accuracy of a served model through its OpenAI-compatible chat API: each task example is one
 * `POST /v1/chat/completions` (greedy, the given threshold and strategy), the answer is the message content,
 * and forwards come from the response's `diffusion` block. This measures the whole served stack (template,
 * tokenizer, decode loop, runtime, HTTP), not just the model: what `npm start` users get.
 */
import { tally, type EvalResult } from '../../training/evaluate.ts';
import type { TaskExample } from '../../training/tasks.ts';

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
}

/** One failed HTTP call: stops the evaluation with the server's own error message (never the key). */
export class ApiEvalError extends Error {}

interface ChatResponse {
  choices?: { message?: { content?: string | null }; finish_reason?: string }[];
  usage?: { completion_tokens?: number };
  diffusion?: { forwards?: number };
  error?: { message?: string };
}

export async function chatAnswer(
  target: ApiTarget,
  prompt: string,
  o: ApiEvalOptions,
): Promise<{ text: string; finishReason: string; completionTokens: number; forwards: number }> {
  const f = target.fetch ?? fetch;
  const body = {
    model: target.model,
    messages: [{ role: 'user', content: prompt }],
    temperature: 0,
    max_tokens: o.maxTokens,
    strategy: o.algorithm,
    ...(o.threshold === undefined ? {} : { threshold: o.threshold }),
  };
  const res = await f(`${target.baseUrl.replace(/\/$/, '')}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${target.apiKey}` },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as ChatResponse;
  if (!res.ok)
    throw new ApiEvalError(
      `POST /chat/completions → ${res.status}: ${json.error?.message ?? res.statusText}`,
    );
  const choice = json.choices?.[0];
  if (!choice?.message || typeof json.diffusion?.forwards !== 'number')
    throw new ApiEvalError(
      'the response has no choices[0].message or no diffusion.forwards: not an Unmask server?',
    );
  return {
    text: choice.message.content ?? '',
    finishReason: choice.finish_reason ?? '',
    completionTokens: json.usage?.completion_tokens ?? 0,
    forwards: json.diffusion.forwards,
  };
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
    const r = await chatAnswer(target, ex.prompt, o);
    return {
      correct: r.text === ex.answer && r.finishReason === 'stop',
      got: () => r.text,
      forwards: r.forwards,
      committedTokens: r.completionTokens,
      outputTokens: r.completionTokens,
    };
  });
}
