/** Parses and validates a GenerateRequest body (the pool protocol) against the served model. */
import { DecodeOptionsError, planDecode } from '../../../src/decode/index.ts';
import type { RunnerInfo } from '../../../src/decode/runner.ts';
import {
  generateRequestSchema,
  type WireDecodeOptions,
} from '../../../src/dispatch/pool/protocol.ts';
import { badRequest } from '../../../src/api/errors.ts';
import { decodeOptionsApiError } from '../../../src/api/protocol/decode-fields.ts';

export interface ParsedGenerate {
  promptIds: number[];
  options: WireDecodeOptions;
  denoise: boolean;
}

/** Validates `body` for the model `modelId`; throws an ApiError 400 naming the offending field. */
export function parseGenerate(body: unknown, modelId: string, info: RunnerInfo): ParsedGenerate {
  const parsed = generateRequestSchema.safeParse(body);
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
  const options: WireDecodeOptions = { ...req.options };
  try {
    // Fix the seed here, so the worker's plan and this one agree and the result reports it.
    options.seed = planDecode(info, req.prompt_ids, options).seed;
  } catch (e: unknown) {
    if (!(e instanceof DecodeOptionsError)) throw e;
    throw decodeOptionsApiError(e, { promptIds: 'prompt_ids' });
  }
  return { promptIds: req.prompt_ids, options, denoise: req.denoise ?? false };
}
