/**
 * A ModelEngine over OpenAI-compatible servers (e.g. SGLang serving LLaDA2.0 with `--api-key`): the prompt
 * goes to /v1/completions as token ids with stream=true, and each streamed text delta comes back as a `block`
 * event whose tokens are that text re-encoded with the model's codec. The server's own ids are not on the wire,
 * so the ids are a re-encoding: decoding them gives exactly the server's text for byte-level BPE tokenizers
 * (LLaDA2's), and the completion token count may differ from the server's by the few merges a chunk boundary
 * splits. No denoising steps (the API does not stream them); only the main sampling knobs are sent, and the
 * diffusion knobs this API cannot pass on (block_length, steps, threshold, strategy, eos_early_stop) are refused.
 * The tokenizer and limits come from elsewhere (`model`, e.g. the edge package of the same model).
 */
import type {
  DecodeEvent,
  DecodeOptionName,
  DecodeOptions,
  RunnerInfo,
} from '../../decode/index.ts';
import type { OpenModel } from '../../api/engine.ts';
import { ApiError } from '../../api/errors.ts';
import { paramFor, toRequestFields } from '../../api/protocol/decode-fields.ts';
import type { TextCodec } from '../../model/text-codec.ts';
import { fromPoolError, poolDisconnected } from './errors.ts';
import { poolStream } from './pool-stream.ts';
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  abortedResult,
  nextJson,
  type PoolEngine,
  type PoolEngineOptions,
} from './shared.ts';

export const COMPLETIONS_PATH = '/v1/completions';

export interface OpenAiPoolOptions extends Omit<PoolEngineOptions, 'describeBudgetMs'> {
  /** The served model's codec and limits (OpenAI-compatible servers do not hand out their tokenizer). */
  model: () => Promise<{ codec: TextCodec; info: RunnerInfo }>;
}

/**
 * The knobs an OpenAI-compatible completions API carries (a grammar travels as the request's own
 * `response_format`, enforced by the server); the diffusion ones it has no field for are refused.
 */
const CARRIED = new Set(['maxTokens', 'temperature', 'topP', 'topK', 'seed', 'constraint']);

interface Chunk {
  choices?: { text?: string; finish_reason?: string | null }[];
  error?: Record<string, unknown>;
}

/** The /v1/completions body for a prompt of ids. */
export function completionsBody(
  model: string,
  promptIds: number[],
  o: DecodeOptions,
): Record<string, unknown> {
  const refused = Object.entries(o).find(
    ([k, v]) => v !== undefined && k !== 'signal' && k !== 'prefixCache' && !CARRIED.has(k),
  );
  if (refused) {
    const param = paramFor(refused[0] as DecodeOptionName);
    throw new ApiError(
      400,
      'invalid_request_error',
      `${param} is not supported by this model's backend`,
      {
        param,
        code: 'unsupported_parameter',
      },
    );
  }
  const fields = toRequestFields(o);
  // Special tokens come back as text and are re-encoded here, so the API decides what to show: a tokenizer
  // that marks `<tool_call>` special would otherwise lose the tags the tool-call parser needs.
  return {
    model,
    prompt: promptIds,
    stream: true,
    temperature: 0,
    skip_special_tokens: false,
    ...fields,
  };
}

/** @example openAiPoolEngine({ id: 'llada2-mini', members, secret, model: () => edge.open() }) */
export function openAiPoolEngine(opts: OpenAiPoolOptions): PoolEngine {
  const {
    id,
    members,
    secret,
    retry = {},
    idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS,
    ownedBy = 'unmask',
    model,
  } = opts;
  const upstreamModel = opts.upstreamModel ?? id;
  const fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));

  // A generator, so a refused option surfaces on the first next(), like every other failure.
  async function* decode(
    codec: TextCodec,
    promptIds: number[],
    options: DecodeOptions,
  ): AsyncGenerator<DecodeEvent> {
    yield* poolStream({
      members,
      retry,
      fetch: fetchFn,
      idleTimeoutMs,
      secret,
      path: COMPLETIONS_PATH,
      payload: JSON.stringify(completionsBody(upstreamModel, promptIds, options)),
      signal: options.signal,
      seed: options.seed,
      first: (json) => json as Chunk | null,
      async *relay(first, it, output, broke) {
        let finish: string | null = null;
        let block = 0;
        // null: the [DONE] frame.
        let chunk: Chunk | null = first;
        for (;;) {
          if (chunk === null) break;
          if (chunk.error) throw fromPoolError(chunk.error);
          const choice = chunk.choices?.[0];
          if (choice?.text) {
            const tokens = codec.encode(choice.text);
            if (tokens.length > 0) {
              yield { type: 'block', block: block++, offset: output.length, tokens };
              output.push(...tokens);
            }
          }
          if (choice?.finish_reason) finish = choice.finish_reason;
          const next = await nextJson(it);
          if (!next) {
            if (finish) break; // some servers end without [DONE]
            broke();
            throw poolDisconnected('it closed before a finish reason');
          }
          chunk = next.json as Chunk | null;
        }
        yield {
          type: 'done',
          result: {
            ...abortedResult(output, options.seed),
            finishReason: finish === 'stop' ? 'stop' : 'length',
          },
        };
      },
    });
  }

  let opened: OpenModel | undefined;
  return {
    id,
    backend: 'gpu-openai',
    ownedBy,
    async open() {
      if (opened) return opened;
      const { codec, info } = await model();
      opened ??= { codec, info, decode: (promptIds, options) => decode(codec, promptIds, options) };
      return opened;
    },
    available: () => members.available(),
    status: () => ({ members: members.status() }),
  };
}
