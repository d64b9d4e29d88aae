/**
 * Turns a validated request into what a generation needs: the engine (checked against the tenant's allowed
 * models), the choice count and max_tokens cap (checked before admission), and DecodeOptions validated against
 * every prompt before any forward.
 */
import {
  DecodeOptionsError,
  planDecode,
  type ConstraintSource,
  type DecodeOptions,
} from '../../decode/index.ts';
import type { Tenant } from '../tenancy.ts';
import type { EngineRegistry, ModelEngine, OpenModel } from '../engine.ts';
import { ApiError, badRequest, toApiError } from '../errors.ts';
import { mayUseModel, modelNotFound } from '../model-access.ts';
import {
  decodeOptionsApiError,
  toDecodeOptions,
  type FieldAliases,
} from '../protocol/decode-fields.ts';
import type { GenerationRequest } from '../protocol/schemas.ts';
import type { ChoiceTools } from './generation.ts';

/** Default completion length when the request names none (bounded by the context and the tenant cap). */
export const DEFAULT_MAX_TOKENS = 512;

/**
 * Choices per request (prompts × n) at most: each runs a full generation in turn while the request holds one
 * concurrency slot, so a larger batch belongs in several requests.
 */
export const MAX_CHOICES = 16;

/** Refuses prompts × n above MAX_CHOICES, naming `n` when it is what multiplies the prompts. */
export function checkChoiceCount(prompts: number, n: number, promptParam: string): void {
  if (prompts * n <= MAX_CHOICES) return;
  const param = n > 1 ? 'n' : promptParam;
  throw badRequest(
    `${prompts} prompt(s) × n ${n} = ${prompts * n} choices; at most ${MAX_CHOICES} per request`,
    param,
  );
}

/** The max_tokens the request asked for (max_completion_tokens wins), refused above the key's cap. */
export function requestedMaxTokens(
  body: GenerationRequest,
  tenant: Tenant,
): { requested: number | null; param: string } {
  const completionCap =
    (body as { max_completion_tokens?: number | null }).max_completion_tokens ?? null;
  const requested: number | null = completionCap ?? body.max_tokens ?? null;
  const param = completionCap != null ? 'max_completion_tokens' : 'max_tokens';
  if (requested !== null && tenant.maxTokens !== null && requested > tenant.maxTokens) {
    throw badRequest(
      `${param} ${requested} exceeds this key's limit of ${tenant.maxTokens}`,
      param,
    );
  }
  return { requested, param };
}

export interface Prepared {
  engine: ModelEngine;
  model: OpenModel;
  prompts: number[][];
  options: DecodeOptions;
  stops: string[];
  n: number;
  maxTokens: number;
  /** Tools offered to the model (chat), whose calls are parsed out of its text. */
  tools: ChoiceTools | null;
  /** Report token log-probabilities (options.logprobs holds the alternatives per token). */
  logprobs: boolean;
}

/**
 * The request's log-probability ask: chat `logprobs: true` (+ `top_logprobs`), completions `logprobs: N`.
 * Alternatives come from the model's top-k head, so more than its k are refused.
 */
export function logprobsOption(body: GenerationRequest, model: OpenModel): number | null {
  const b = body as { logprobs?: boolean | number | null; top_logprobs?: number | null };
  const chat = typeof b.logprobs === 'boolean' || b.top_logprobs != null;
  const wanted =
    typeof b.logprobs === 'number'
      ? b.logprobs
      : b.logprobs === true
        ? (b.top_logprobs ?? 0)
        : null;
  if (chat && b.logprobs !== true && (b.top_logprobs ?? 0) > 0)
    throw badRequest('top_logprobs needs logprobs: true', 'top_logprobs');
  if (wanted === null) return null;
  const k = model.info.topK;
  if (wanted > k) {
    const param = chat ? 'top_logprobs' : 'logprobs';
    throw badRequest(
      `${param} ${wanted} is more than this model reports: at most ${k} alternatives (its top-k head)`,
      param,
    );
  }
  return wanted;
}

/** The engine of `model`; a model the key may not use is reported exactly like one that does not exist. */
export function findEngine(engines: EngineRegistry, tenant: Tenant, model: string): ModelEngine {
  const engine = mayUseModel(tenant, model) ? engines.get(model, { tenant }) : undefined;
  if (!engine) throw modelNotFound(model);
  return engine;
}

export async function openEngine(engine: ModelEngine): Promise<OpenModel> {
  try {
    return await engine.open();
  } catch (e: unknown) {
    const err = toApiError(e);
    if (err.status === 500)
      throw new ApiError(
        503,
        'service_unavailable_error',
        `The model '${engine.id}' is unavailable`,
        { code: 'model_unavailable', headers: { 'retry-after': '5' }, cause: e },
      );
    throw err;
  }
}

/** Tokens each choice may generate: what the request asked for, else the default within the context and cap. */
export function completionLength(
  requested: number | null,
  tenant: Tenant,
  model: OpenModel,
  prompts: number[][],
): number {
  const room = model.info.maxPositions - Math.max(...prompts.map((p) => p.length));
  return requested ?? Math.max(1, Math.min(room, tenant.maxTokens ?? DEFAULT_MAX_TOKENS));
}

/**
 * The request's DecodeOptions, stops and choice count, validated against every prompt (so a bad request costs no
 * admission and no forward). `promptParam` is the field that carries the prompt ('messages' or 'prompt').
 */
export function prepareOptions(
  body: GenerationRequest,
  tenant: Tenant,
  model: OpenModel,
  prompts: number[][],
  promptParam: string,
  constraint?: ConstraintSource,
): Omit<Prepared, 'engine' | 'model' | 'prompts' | 'tools'> {
  const { requested, param: maxParam } = requestedMaxTokens(body, tenant);
  const aliases: FieldAliases = {
    promptIds: promptParam,
    ...(maxParam === 'max_completion_tokens' ? { maxTokens: maxParam } : {}),
  };
  const longest = Math.max(...prompts.map((p) => p.length));
  if (model.info.maxPositions - longest < 1)
    throw badRequest(
      `the prompt has ${longest} tokens, which fills the model's context of ${model.info.maxPositions}`,
      promptParam,
      'context_length_exceeded',
    );
  const maxTokens = completionLength(requested, tenant, model, prompts);
  const logprobs = logprobsOption(body, model);
  const options: DecodeOptions = {
    temperature: 0,
    ...toDecodeOptions(body),
    maxTokens,
    ...(constraint ? { constraint } : {}),
    ...(logprobs !== null ? { logprobs } : {}),
  };
  try {
    for (const p of prompts) planDecode(model.info, p, options);
  } catch (e: unknown) {
    if (e instanceof DecodeOptionsError) throw decodeOptionsApiError(e, aliases);
    throw e;
  }
  const stops =
    body.stop == null
      ? []
      : (Array.isArray(body.stop) ? body.stop : [body.stop]).filter((s) => s.length > 0);
  return { options, stops, n: body.n ?? 1, maxTokens, logprobs: logprobs !== null };
}
