/**
 * How each API writes a generation: the JSON body and the SSE events. Chat completions and legacy completions
 * share the chunk framing (`data: {…}` … `data: [DONE]`); the Responses API has its own (responses/wire.ts).
 * Denoising frames are ordinary `data:` chunks with `choices: []` and a `diffusion` field, so every SDK's
 * iterator passes them through.
 */
import type { TextCodec } from '../../model/text-codec.ts';
import type { ChoiceEvent, ChoiceResult, DenoiseFrame, TokenLogprobEntry } from './generation.ts';

export interface SseEvent {
  event?: string;
  data: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export interface WireContext {
  id: string;
  created: number;
  model: string;
  includeUsage: boolean;
  codec: TextCodec;
}

/** Run statistics every API reports as Unmask's `diffusion` extension. */
export interface DiffusionStats {
  forwards: number;
  tokens_per_forward: number;
}

export interface Wire {
  start(): SseEvent[];
  choiceStart(index: number): SseEvent[];
  output(index: number, event: ChoiceEvent): SseEvent[];
  denoise(index: number, frame: DenoiseFrame): SseEvent[];
  choiceEnd(index: number, result: ChoiceResult): SseEvent[];
  /** The closing events (usage, `[DONE]`). */
  end(usage: Usage): SseEvent[];
  /** A failure after the stream started (the OpenAI error envelope). */
  error(envelope: { error: Record<string, unknown> }): SseEvent[];
  /** The non-streamed answer; `results` in choice order. */
  body(results: ChoiceResult[], usage: Usage, diffusion: DiffusionStats): object;
}

export interface Flavor {
  idPrefix: string;
  wire(ctx: WireContext): Wire;
}

const data = (value: unknown): SseEvent => ({ data: JSON.stringify(value) });
export const DONE: SseEvent = { data: '[DONE]' };

const tokenText = (codec: TextCodec, token: number) =>
  codec.decode([token], { skipSpecialTokens: false });
const utf8 = (text: string) => Array.from(new TextEncoder().encode(text));

/** Chat's `logprobs.content` entries. */
export function chatLogprobs(codec: TextCodec, entries: TokenLogprobEntry[]) {
  return entries.map((e) => {
    const token = tokenText(codec, e.token);
    return {
      token,
      logprob: e.logprob,
      bytes: utf8(token),
      top_logprobs: e.top.map((t) => {
        const alt = tokenText(codec, t.token);
        return { token: alt, logprob: t.logprob, bytes: utf8(alt) };
      }),
    };
  });
}

/** Legacy completions' `logprobs` object; offsets count characters from `start`. */
function completionLogprobs(codec: TextCodec, entries: TokenLogprobEntry[], start: number) {
  const tokens = entries.map((e) => tokenText(codec, e.token));
  let offset = start;
  return {
    tokens,
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) =>
      Object.fromEntries(e.top.map((t) => [tokenText(codec, t.token), t.logprob])),
    ),
    text_offset: tokens.map((t) => {
      const at = offset;
      offset += t.length;
      return at;
    }),
  };
}

function chunkWire(ctx: WireContext, object: string, chunkObject: string) {
  const envelope = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
    id: ctx.id,
    object: chunkObject,
    created: ctx.created,
    model: ctx.model,
    system_fingerprint: 'unmask',
    choices,
    // With include_usage, every chunk but the last carries "usage": null (as OpenAI sends it).
    ...(ctx.includeUsage ? { usage: null } : {}),
    ...extra,
  });
  return {
    chunk: (choices: unknown[], extra?: Record<string, unknown>) => data(envelope(choices, extra)),
    denoise: (index: number, frame: DenoiseFrame): SseEvent[] => [
      data(envelope([], { diffusion: { index, ...frame } })),
    ],
    end: (usage: Usage): SseEvent[] =>
      ctx.includeUsage ? [data(envelope([], { usage })), DONE] : [DONE],
    error: (envelope: { error: Record<string, unknown> }): SseEvent[] => [data(envelope), DONE],
    body: (choices: unknown[], usage: Usage, diffusion: DiffusionStats) => ({
      id: ctx.id,
      object,
      created: ctx.created,
      model: ctx.model,
      system_fingerprint: 'unmask',
      choices,
      usage,
      diffusion,
    }),
  };
}

const wireToolCall = (call: { id: string; name: string; arguments: string }) => ({
  id: call.id,
  type: 'function' as const,
  function: { name: call.name, arguments: call.arguments },
});

export const CHAT: Flavor = {
  idPrefix: 'chatcmpl-',
  wire(ctx) {
    const w = chunkWire(ctx, 'chat.completion', 'chat.completion.chunk');
    const callsSent = new Map<number, number>();
    const logprobs = (entries?: TokenLogprobEntry[]) =>
      entries ? { content: chatLogprobs(ctx.codec, entries), refusal: null } : null;
    return {
      start: () => [],
      choiceStart: (index) => [
        w.chunk([
          { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
        ]),
      ],
      output(index, ev) {
        if (ev.type === 'content')
          return [
            w.chunk([
              {
                index,
                delta: { content: ev.text },
                logprobs: logprobs(ev.logprobs),
                finish_reason: null,
              },
            ]),
          ];
        const n = callsSent.get(index) ?? 0;
        callsSent.set(index, n + 1);
        return [
          w.chunk([
            {
              index,
              delta: { tool_calls: [{ index: n, ...wireToolCall(ev.call) }] },
              logprobs: logprobs(ev.logprobs),
              finish_reason: null,
            },
          ]),
        ];
      },
      denoise: w.denoise,
      choiceEnd: (index, r) => [
        w.chunk([{ index, delta: {}, logprobs: null, finish_reason: r.finishReason }]),
      ],
      end: w.end,
      error: w.error,
      body: (results, usage, diffusion) =>
        w.body(
          results.map((r, index) => ({
            index,
            message: {
              role: 'assistant',
              content: r.text,
              refusal: null,
              ...(r.toolCalls.length > 0 ? { tool_calls: r.toolCalls.map(wireToolCall) } : {}),
            },
            logprobs: r.logprobs ? logprobs(r.logprobs) : null,
            finish_reason: r.finishReason,
          })),
          usage,
          diffusion,
        ),
    };
  },
};

export const COMPLETION: Flavor = {
  idPrefix: 'cmpl-',
  wire(ctx) {
    const w = chunkWire(ctx, 'text_completion', 'text_completion');
    const offsets = new Map<number, number>();
    return {
      start: () => [],
      // An empty first chunk per choice, as chat's role chunk: the stream starts before the first block.
      choiceStart: (index) => [w.chunk([{ index, text: '', logprobs: null, finish_reason: null }])],
      output(index, ev) {
        if (ev.type !== 'content') return [];
        const at = offsets.get(index) ?? 0;
        offsets.set(index, at + ev.text.length);
        const logprobs = ev.logprobs ? completionLogprobs(ctx.codec, ev.logprobs, at) : null;
        return [w.chunk([{ index, text: ev.text, logprobs, finish_reason: null }])];
      },
      denoise: w.denoise,
      choiceEnd: (index, r) => [
        w.chunk([{ index, text: '', logprobs: null, finish_reason: r.finishReason }]),
      ],
      end: w.end,
      error: w.error,
      body: (results, usage, diffusion) =>
        w.body(
          results.map((r, index) => ({
            index,
            text: r.text ?? '',
            logprobs: r.logprobs ? completionLogprobs(ctx.codec, r.logprobs, 0) : null,
            finish_reason: r.finishReason,
          })),
          usage,
          diffusion,
        ),
    };
  },
};
