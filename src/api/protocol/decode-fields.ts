/**
 * The one mapping between a request's sampling and diffusion fields (OpenAI snake_case plus Unmask's diffusion
 * extensions) and the decode loop's DecodeOptions. Every boundary that speaks request fields uses it: the OpenAI
 * routes, /internal/generate and the OpenAI-compatible pool member. Adding a decode knob means adding it here.
 */
import { z } from '@hono/zod-openapi';
import type { DecodeOptionName, DecodeOptions, DecodeOptionsError } from '../../decode/index.ts';
import { ApiError } from '../api-error.ts';

/** Request fields of the decode knobs (zod fragment, spread into each request schema). */
export const decodeFields = {
  max_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(0).nullish(),
  seed: z.number().int().nullish(),
  block_length: z
    .number()
    .int()
    .min(1)
    .max(256)
    .nullish()
    .openapi({ description: "Diffusion block length B (default: the model's)." }),
  steps: z
    .number()
    .int()
    .min(1)
    .nullish()
    .openapi({ description: 'Max denoising steps per block.' }),
  threshold: z
    .number()
    .gt(0)
    .max(1)
    .nullish()
    .openapi({ description: 'Confidence threshold in (0, 1] (default 0.95).' }),
  strategy: z.string().nullish().openapi({
    description:
      'Unmasking strategy: low_confidence (default), hierarchy, factor, entropy_threshold.',
  }),
  eos_early_stop: z
    .boolean()
    .nullish()
    .openapi({ description: 'End mid-block once a committed EOS has no masks before it.' }),
  response_format: z.looseObject({ type: z.string() }).nullish().openapi({
    description:
      'Structured output: {"type": "json_object"} or {"type": "json_schema", "json_schema": {name, schema, strict}}, enforced by a grammar inside the diffusion loop (supported JSON Schema subset: docs/structured-output.md).',
  }),
};

const _decodeFieldsSchema = z.object(decodeFields);
export type DecodeFields = z.infer<typeof _decodeFieldsSchema>;
type FieldName = keyof DecodeFields;

/** DecodeOptions key → request field. */
const FIELD_OF = {
  maxTokens: 'max_tokens',
  temperature: 'temperature',
  topP: 'top_p',
  topK: 'top_k',
  seed: 'seed',
  blockLength: 'block_length',
  steps: 'steps',
  threshold: 'threshold',
  algorithm: 'strategy',
  eosEarlyStop: 'eos_early_stop',
} as const satisfies Partial<Record<DecodeOptionName, FieldName>>;

type MappedOption = keyof typeof FIELD_OF;
const MAPPED = Object.keys(FIELD_OF) as MappedOption[];

/**
 * `response_format` ↔ DecodeOptions.constraint: the grammar is compiled from the field in serving/structured.ts
 * (it needs the model), and a constraint carries the field's value back as its `spec`.
 */
const CONSTRAINT_FIELD = 'response_format';

/** The set fields of `body` as DecodeOptions (null and absent fields are left to the decode loop's defaults). */
export function toDecodeOptions(body: Partial<DecodeFields>): DecodeOptions {
  const options: Record<string, unknown> = {};
  for (const option of MAPPED) {
    const value = body[FIELD_OF[option]];
    if (value !== undefined && value !== null) options[option] = value;
  }
  return options as DecodeOptions;
}

/** DecodeOptions → request fields (for forwarding to an OpenAI-compatible server); options without a field are left out. */
export function toRequestFields(options: DecodeOptions): Partial<Record<FieldName, unknown>> {
  const fields: Partial<Record<FieldName, unknown>> = {};
  for (const option of MAPPED) {
    const value = options[option];
    if (value !== undefined) fields[FIELD_OF[option]] = value;
  }
  if (options.constraint) fields[CONSTRAINT_FIELD] = options.constraint.spec;
  return fields;
}

/** How a route spells the options that differ between routes (the prompt, and max_completion_tokens in chat). */
export interface FieldAliases {
  promptIds?: string;
  maxTokens?: string;
}

/** The request field that carries `option`. */
export function paramFor(option: DecodeOptionName, aliases: FieldAliases = {}): string {
  if (option === 'promptIds') return aliases.promptIds ?? 'prompt';
  if (option === 'maxTokens' && aliases.maxTokens) return aliases.maxTokens;
  if (option === 'algorithmParams') return 'strategy';
  if (option === 'constraint') return CONSTRAINT_FIELD;
  return (FIELD_OF as Record<string, string>)[option] ?? option;
}

/** A DecodeOptionsError as the 400 a client sees: the field it sent, and context_length_exceeded when it applies. */
export function decodeOptionsApiError(e: DecodeOptionsError, aliases: FieldAliases = {}): ApiError {
  const param = paramFor(e.option, aliases);
  const code = e.reason === 'context_length' ? 'context_length_exceeded' : null;
  const subject = e.knob === undefined ? param : `${param} parameter ${e.knob}`;
  return new ApiError(400, 'invalid_request_error', `${subject}: ${e.problem}`, { param, code });
}
