/**
 * A ModelEngine over a pool of Unmask GPU servers (src/dispatch/pool/protocol.ts): open() fetches the model
 * description once per isolate (tokenizer → TextCodec, RunnerInfo); decode() POSTs a GenerateRequest and turns
 * the PoolEvent stream back into DecodeEvents. Retries happen only before the first event; the caller's
 * AbortSignal (and ending the iteration early) aborts the upstream fetch, which cancels the server's sequence.
 */
import {
  GENERATE_PATH,
  MODEL_PATH,
  type GenerateRequest,
  type ModelDescription,
  type PoolEvent,
  wireOptions,
} from './protocol.ts';

export { wireOptions } from './protocol.ts';
import type { DecodeEvent, DecodeOptions } from '../../decode/index.ts';
import type { OpenModel } from '../../api/engine.ts';
import { TextCodec } from '../../model/text-codec.ts';
import { ApiError } from '../../api/errors.ts';
import { errorFromResponse, fromPoolError, poolDisconnected, poolMisconfigured } from './errors.ts';
import { poolStream } from './pool-stream.ts';
import { RetryableError, classifyStatus, withRetries } from './retry.ts';
import {
  DEFAULT_DESCRIBE_BUDGET_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  ProtocolError,
  nextJson,
  type PoolEngine,
  type PoolEngineOptions,
} from './shared.ts';

export interface UnmaskPoolOptions extends PoolEngineOptions {
  /** Ask the pool for per-step denoising snapshots (stream_options.include_denoising needs them). Default false. */
  denoise?: boolean;
}

/** PoolEvent → DecodeEvent, or a thrown ApiError for an `error` event. */
export function toDecodeEvent(e: PoolEvent): DecodeEvent {
  switch (e.type) {
    case 'step':
      return {
        type: 'step',
        block: e.block,
        step: e.step,
        committed: e.committed,
        masked: e.masked,
        ...(e.cachedPromptTokens !== undefined ? { cachedPromptTokens: e.cachedPromptTokens } : {}),
      };
    case 'block':
      return {
        type: 'block',
        block: e.block,
        offset: e.offset,
        tokens: e.tokens,
        ...(e.logprobs ? { logprobs: e.logprobs } : {}),
      };
    case 'done':
      return { type: 'done', result: e.result };
    case 'error':
      throw fromPoolError(e.error);
    default:
      throw new ProtocolError(
        `unknown event type ${JSON.stringify((e as { type?: unknown }).type)}`,
      );
  }
}

function asPoolEvent(json: unknown): PoolEvent {
  if (!json || typeof json !== 'object' || typeof (json as { type?: unknown }).type !== 'string')
    throw new ProtocolError('an event without a type');
  return json as PoolEvent;
}

/**
 * @example
 * const engine = unmaskPoolEngine({ id: 'llada2-flash', members: new PoolMembers({ urls: ['https://gpu.internal'] }), secret: env.GPU_POOL_SECRET });
 */
export function unmaskPoolEngine(opts: UnmaskPoolOptions): PoolEngine {
  const {
    id,
    members,
    secret,
    retry = {},
    idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS,
    describeBudgetMs = DEFAULT_DESCRIBE_BUDGET_MS,
    denoise = false,
    ownedBy = 'unmask',
  } = opts;
  const upstreamModel = opts.upstreamModel ?? id;
  const fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
  // Only the resolved model is shared between requests: a pending fetch belongs to the request that made it.
  let opened: OpenModel | undefined;

  async function describe(): Promise<ModelDescription> {
    const attempt = await withRetries(
      members,
      undefined,
      { ...retry, budgetMs: describeBudgetMs },
      async (member, { signal, connected }) => {
        const res = await fetchFn(`${member.url}${MODEL_PATH}`, {
          headers: { authorization: `Bearer ${secret}`, accept: 'application/json' },
          signal,
        });
        const retryable = classifyStatus(res, members.now());
        if (retryable) {
          await res.body?.cancel().catch(() => {});
          throw retryable;
        }
        if (!res.ok) throw await errorFromResponse(res);
        const description = (await res.json()) as ModelDescription;
        // The connect timeout covers the body too: a description that stalls half-way is a failed attempt.
        connected();
        return description;
      },
    );
    attempt.settle(true);
    const d = attempt.value;
    if (!d || typeof d.info !== 'object' || typeof d.tokenizer !== 'object')
      throw poolMisconfigured(`${MODEL_PATH} returned no model description`);
    if (d.id !== upstreamModel)
      throw poolMisconfigured(
        `the pool serves '${d.id}', but this route expects '${upstreamModel}'`,
      );
    return d;
  }

  // A generator, so a refused option surfaces on the first next(), like every other failure.
  async function* decode(promptIds: number[], options: DecodeOptions): AsyncGenerator<DecodeEvent> {
    // Unmask GPU servers do not run grammars yet (docs/structured-output.md): refuse rather than ignore.
    if (options.constraint)
      throw new ApiError(
        400,
        'invalid_request_error',
        "response_format json_object and json_schema are not supported by this model's GPU pool",
        { param: 'response_format', code: 'unsupported_parameter' },
      );
    const body: GenerateRequest = {
      model: upstreamModel,
      prompt_ids: promptIds,
      options: wireOptions(options),
      ...(denoise ? { denoise } : {}),
    };
    yield* poolStream({
      members,
      retry,
      fetch: fetchFn,
      idleTimeoutMs,
      secret,
      path: GENERATE_PATH,
      payload: JSON.stringify(body),
      signal: options.signal,
      seed: options.seed,
      first: (json) => {
        if (json === null)
          throw new RetryableError('the stream ended before its first event', 'failure');
        const first = asPoolEvent(json);
        // Nothing has reached the caller yet, so a pool that turned busy (draining, queue full) can still be retried.
        if (first.type === 'error' && first.error.type === 'service_unavailable_error')
          throw new RetryableError(first.error.message, 'busy');
        return first;
      },
      async *relay(first, it, output, broke) {
        let event: PoolEvent | null = first;
        while (event) {
          if (event.type === 'error') throw fromPoolError(event.error);
          const out = toDecodeEvent(event);
          if (out.type === 'block') output.push(...out.tokens);
          yield out;
          if (out.type === 'done') return;
          const next = await nextJson(it);
          event = next && next.json !== null ? asPoolEvent(next.json) : null;
        }
        broke();
        throw poolDisconnected('it closed without a done event');
      },
    });
  }

  return {
    id,
    backend: 'gpu-pool',
    ownedBy,
    async open() {
      if (opened) return opened;
      const d = await describe();
      opened ??= { codec: new TextCodec(d.tokenizer, d.tokenizer_config), info: d.info, decode };
      return opened;
    },
    available: () => members.available(),
    status: () => ({ members: members.status() }),
  };
}
