/** Parses and validates a GenerateRequest body, and maps it onto DecodeOptions (planDecode checks the values). */
import { z } from 'zod';
import { DecodeOptionsError, planDecode } from '../../../src/decode/index.ts';
import type { RunnerInfo } from '../../../src/decode/runner.ts';
import type { GenerateRequest } from '../../../src/dispatch/pool/protocol.ts';
import type { WireDecodeOptions } from '../worker/messages.ts';
import { badRequest } from '../../../src/api/errors.ts';

const GenerateRequestSchema = z.object({
  model: z.string(),
  prompt_ids: z.array(z.number().int()),
  options: z.object({
    max_tokens: z.number().int().positive(),
    block_length: z.number().int().positive().optional(),
    steps: z.number().int().positive().optional(),
    threshold: z.number().optional(),
    temperature: z.number().optional(),
    top_k: z.number().int().optional(),
    top_p: z.number().optional(),
    seed: z.number().int().optional(),
    eos_early_stop: z.boolean().optional(),
    strategy: z.string().optional(),
  }),
  denoise: z.boolean().optional(),
}) satisfies z.ZodType<GenerateRequest>;

/** DecodeOptions names → the request's snake_case field. */
const PARAM_NAMES: Record<string, string> = {
  maxTokens: 'max_tokens',
  blockLength: 'block_length',
  topK: 'top_k',
  topP: 'top_p',
  eosEarlyStop: 'eos_early_stop',
  algorithm: 'strategy',
  algorithmParams: 'strategy',
  promptIds: 'prompt_ids',
  minimalTopk: 'minimal_topk',
};

export interface ParsedGenerate {
  promptIds: number[];
  options: WireDecodeOptions;
  denoise: boolean;
}

/** Validates `body` for the model `modelId`; throws an ApiError 400 naming the offending field. */
export function parseGenerate(body: unknown, modelId: string, info: RunnerInfo): ParsedGenerate {
  const parsed = GenerateRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.join('.');
    throw badRequest(`${path || 'body'}: ${issue.message}`, path || null);
  }
  const req = parsed.data;
  if (req.model !== modelId)
    throw badRequest(
      `model "${req.model}" is not served here (this server runs "${modelId}")`,
      'model',
      'model_not_found',
    );
  const o = req.options;
  const options: WireDecodeOptions = Object.fromEntries(
    Object.entries({
      maxTokens: o.max_tokens,
      blockLength: o.block_length,
      steps: o.steps,
      threshold: o.threshold,
      temperature: o.temperature,
      topK: o.top_k,
      topP: o.top_p,
      seed: o.seed,
      eosEarlyStop: o.eos_early_stop,
      algorithm: o.strategy,
    }).filter(([, v]) => v !== undefined),
  );
  try {
    // Fix the seed here, so the worker's plan and this one agree and the result reports it.
    options.seed = planDecode(info, req.prompt_ids, options).seed;
  } catch (e: unknown) {
    if (!(e instanceof DecodeOptionsError)) throw e;
    const root = e.param.split('.')[0];
    const param = PARAM_NAMES[root] ?? root;
    const code = /over the model's|leaves no room/.test(e.message)
      ? 'context_length_exceeded'
      : null;
    throw badRequest(e.message.replace(/^[\w.]+: /, `${param}: `), param, code);
  }
  return { promptIds: req.prompt_ids, options, denoise: req.denoise ?? false };
}
