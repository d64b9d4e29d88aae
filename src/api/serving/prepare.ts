/**
 * Turns a validated request into what a generation needs: the engine (checked against the tenant's allowed
 * models), prompt ids per prompt, and DecodeOptions — all validated before any admission or forward.
 */
import { DecodeOptionsError, planDecode, type DecodeOptions } from '../../decode/index.ts';
import type { Tenant } from '../tenancy.ts';
import type { EngineRegistry, ModelEngine, OpenModel } from '../engine.ts';
import { ApiError, badRequest, toApiError } from '../errors.ts';
import {
  decodeOptionsApiError,
  toDecodeOptions,
  type FieldAliases,
} from '../protocol/decode-fields.ts';
import type { GenerationRequest } from '../protocol/schemas.ts';

/** Default completion length when the request names none (bounded by the context and the tenant cap). */
export const DEFAULT_MAX_TOKENS = 512;

export interface Prepared {
  engine: ModelEngine;
  model: OpenModel;
  prompts: number[][];
  options: DecodeOptions;
  stops: string[];
  n: number;
  maxTokens: number;
}

export function findEngine(engines: EngineRegistry, tenant: Tenant, model: string): ModelEngine {
  const engine = engines.get(model, { tenant });
  if (!engine)
    throw new ApiError(404, 'not_found_error', `The model '${model}' does not exist`, {
      param: 'model',
      code: 'model_not_found',
    });
  if (tenant.models && !tenant.models.includes(model)) {
    throw new ApiError(403, 'permission_error', `This key may not use the model '${model}'`, {
      param: 'model',
      code: 'model_not_allowed',
    });
  }
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
        {
          code: 'model_unavailable',
          headers: { 'retry-after': '5' },
        },
      );
    throw err;
  }
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
): Omit<Prepared, 'engine' | 'model' | 'prompts'> {
  const completionCap =
    (body as { max_completion_tokens?: number | null }).max_completion_tokens ?? null;
  const requested: number | null = completionCap ?? body.max_tokens ?? null;
  const aliases: FieldAliases = {
    promptIds: promptParam,
    ...(completionCap != null ? { maxTokens: 'max_completion_tokens' } : {}),
  };
  const maxParam = aliases.maxTokens ?? 'max_tokens';
  if (requested !== null && tenant.maxTokens !== null && requested > tenant.maxTokens) {
    throw badRequest(
      `${maxParam} ${requested} exceeds this key's limit of ${tenant.maxTokens}`,
      maxParam,
    );
  }
  const longest = Math.max(...prompts.map((p) => p.length));
  const room = model.info.maxPositions - longest;
  if (room < 1)
    throw badRequest(
      `the prompt has ${longest} tokens, which fills the model's context of ${model.info.maxPositions}`,
      promptParam,
      'context_length_exceeded',
    );
  const maxTokens = requested ?? Math.min(room, tenant.maxTokens ?? DEFAULT_MAX_TOKENS);
  const options: DecodeOptions = {
    temperature: 0,
    ...toDecodeOptions(body),
    maxTokens,
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
  return { options, stops, n: body.n ?? 1, maxTokens };
}
