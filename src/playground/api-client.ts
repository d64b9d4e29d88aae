/**
 * The playground's calls to the OpenAI-compatible API, with the key the user typed: the models it may use, and a
 * streamed chat completion read as text deltas plus denoising frames (chunks with `choices: []` and a
 * `diffusion` member). Errors carry the API's own message.
 */
import { sseData } from './sse.ts';
import type { Frame } from './trace.ts';

const KEY_ITEM = 'unmask.apiKey';

/** The key lives in sessionStorage only: gone when the tab closes, never in localStorage or a cookie. */
export const keyStore = {
  get: (): string => sessionStorage.getItem(KEY_ITEM) ?? '',
  set: (key: string) => sessionStorage.setItem(KEY_ITEM, key),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
};

export class ApiCallError extends Error {
  override name = 'ApiCallError';
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

interface ErrorEnvelope {
  error?: { message?: string; code?: string | null; param?: string | null };
}

async function failure(res: Response): Promise<ApiCallError> {
  const body = (await res.json().catch(() => null)) as ErrorEnvelope | null;
  const e = body?.error;
  return new ApiCallError(
    res.status,
    e?.message ?? `${res.status} ${res.statusText}`,
    e?.code ?? null,
    e?.param ?? null,
  );
}

const headers = (key: string) => ({
  authorization: `Bearer ${key}`,
  'content-type': 'application/json',
});

/** The model ids this key may use. */
export async function listModels(key: string, signal?: AbortSignal): Promise<string[]> {
  const res = await fetch('/v1/models', { headers: headers(key), signal });
  if (!res.ok) throw await failure(res);
  const body = (await res.json()) as { data: { id: string }[] };
  return body.data.map((m) => m.id);
}

export type StreamEvent =
  | { type: 'frame'; frame: Frame }
  | { type: 'delta'; text: string }
  | { type: 'finish'; reason: string }
  | { type: 'usage'; promptTokens: number; completionTokens: number };

interface Chunk extends ErrorEnvelope {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  diffusion?: Frame & { index: number };
  usage?: { prompt_tokens: number; completion_tokens: number };
}

/** POST /v1/chat/completions with `stream: true`; yields deltas, frames, the finish reason and usage. */
export async function* streamChat(
  key: string,
  body: Record<string, unknown>,
  signal?: AbortSignal,
): AsyncGenerator<StreamEvent> {
  const res = await fetch('/v1/chat/completions', {
    method: 'POST',
    headers: headers(key),
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok || !res.body) throw await failure(res);
  for await (const data of sseData(res.body)) {
    if (data === '[DONE]') return;
    const chunk = JSON.parse(data) as Chunk;
    if (chunk.error)
      throw new ApiCallError(
        500,
        chunk.error.message ?? 'the stream failed',
        chunk.error.code ?? null,
      );
    if (chunk.diffusion) {
      const { index: _choice, ...frame } = chunk.diffusion;
      yield { type: 'frame', frame };
    }
    const choice = chunk.choices?.[0];
    if (choice?.delta?.content) yield { type: 'delta', text: choice.delta.content };
    if (choice?.finish_reason) yield { type: 'finish', reason: choice.finish_reason };
    if (chunk.usage)
      yield {
        type: 'usage',
        promptTokens: chunk.usage.prompt_tokens,
        completionTokens: chunk.usage.completion_tokens,
      };
  }
}

export interface Completion {
  text: string;
  forwards: number;
  tokensPerForward: number;
}

/** A non-streamed chat completion (batches: the answer and the server's forward count). */
export async function completeChat(
  key: string,
  body: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<Completion> {
  const res = await fetch('/v1/chat/completions', {
    method: 'POST',
    headers: headers(key),
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw await failure(res);
  const json = (await res.json()) as {
    choices: { message: { content: string | null } }[];
    diffusion?: { forwards: number; tokens_per_forward: number };
  };
  return {
    text: json.choices[0]?.message.content ?? '',
    forwards: json.diffusion?.forwards ?? 0,
    tokensPerForward: json.diffusion?.tokens_per_forward ?? 0,
  };
}
