/**
 * OpenAI request and response schemas (zod, with OpenAPI metadata). Unknown fields pass through and are
 * ignored (SDKs send extras); unsupported features are rejected by `rejectUnsupported` naming the field.
 * Diffusion extensions: block_length, steps, threshold, strategy, eos_early_stop.
 */
import { z } from '@hono/zod-openapi';
import { badRequest } from './errors.ts';

const nullableOpt = <T extends z.ZodType>(t: T) => t.nullish();

const TextPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const Content = z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]);

export const MessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: Content.nullish(),
  name: z.string().optional(),
});

const StreamOptions = z.looseObject({
  include_usage: z.boolean().nullish(),
  /** Extension: per-step denoising frames as `event: denoise` (OpenAI SDKs ignore named events). */
  include_denoising: z.boolean().nullish(),
});

/** Sampling and diffusion fields shared by both endpoints. */
const generationFields = {
  model: z.string().min(1).openapi({ example: 'tiny-random' }),
  max_tokens: nullableOpt(z.number().int().min(1)),
  temperature: nullableOpt(z.number().min(0).max(2)),
  top_p: nullableOpt(z.number().gt(0).max(1)),
  top_k: nullableOpt(z.number().int().min(0)),
  stop: nullableOpt(z.union([z.string(), z.array(z.string()).max(4)])),
  seed: nullableOpt(z.number().int()),
  n: nullableOpt(z.number().int().min(1).max(8)),
  stream: nullableOpt(z.boolean()),
  stream_options: nullableOpt(StreamOptions),
  user: nullableOpt(z.string()),
  block_length: nullableOpt(z.number().int().min(1).max(256)).openapi({
    description: "Diffusion block length B (default: the model's).",
  }),
  steps: nullableOpt(z.number().int().min(1)).openapi({
    description: 'Max denoising steps per block.',
  }),
  threshold: nullableOpt(z.number().gt(0).max(1)).openapi({
    description: 'Confidence threshold in (0, 1] (default 0.95).',
  }),
  strategy: nullableOpt(z.string()).openapi({
    description:
      'Unmasking strategy: low_confidence (default), hierarchy, factor, entropy_threshold.',
  }),
  eos_early_stop: nullableOpt(z.boolean()),
};

export const ChatCompletionRequestSchema = z
  .looseObject({
    ...generationFields,
    messages: z.array(MessageSchema).min(1),
    max_completion_tokens: nullableOpt(z.number().int().min(1)),
  })
  .openapi('ChatCompletionRequest');

export const CompletionRequestSchema = z
  .looseObject({
    ...generationFields,
    prompt: z.union([
      z.string(),
      z.array(z.string()).min(1),
      z.array(z.number().int()).min(1),
      z.array(z.array(z.number().int()).min(1)).min(1),
    ]),
    echo: nullableOpt(z.boolean()),
    suffix: nullableOpt(z.string()),
  })
  .openapi('CompletionRequest');

export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;
const _generationFieldsSchema = z.object({
  ...generationFields,
  max_completion_tokens: nullableOpt(z.number().int().min(1)),
});
export type GenerationFields = z.infer<typeof _generationFieldsSchema>;

/** Fields we do not implement: a 400 naming the field beats silently ignoring it. */
export function rejectUnsupported(body: Record<string, unknown>): void {
  const present = (k: string) => body[k] !== undefined && body[k] !== null;
  for (const field of [
    'tools',
    'functions',
    'tool_choice',
    'function_call',
    'logit_bias',
    'audio',
    'prediction',
  ]) {
    if (
      present(field) &&
      !(Array.isArray(body[field]) && (body[field] as unknown[]).length === 0) &&
      body[field] !== 'none'
    ) {
      throw badRequest(`${field} is not supported by this server`, field, 'unsupported_parameter');
    }
  }
  if (body.logprobs === true || (typeof body.logprobs === 'number' && body.logprobs > 0))
    throw badRequest(
      'logprobs is not supported by diffusion decoding',
      'logprobs',
      'unsupported_parameter',
    );
  if (present('top_logprobs'))
    throw badRequest(
      'top_logprobs is not supported by diffusion decoding',
      'top_logprobs',
      'unsupported_parameter',
    );
  const rf = body.response_format as { type?: string } | undefined;
  if (rf && rf.type && rf.type !== 'text')
    throw badRequest(
      `response_format ${rf.type} is not supported`,
      'response_format',
      'unsupported_parameter',
    );
  // Penalties need the tokens generated so far; a diffusion block is decided in parallel. 0 (many clients' default) is fine.
  for (const field of ['presence_penalty', 'frequency_penalty', 'repetition_penalty']) {
    if (
      present(field) &&
      body[field] !== 0 &&
      !(field === 'repetition_penalty' && body[field] === 1)
    ) {
      throw badRequest(
        `${field} is not supported by diffusion decoding (send 0 or omit it)`,
        field,
        'unsupported_parameter',
      );
    }
  }
  if (present('best_of') && body.best_of !== 1)
    throw badRequest('best_of is not supported; use n', 'best_of', 'unsupported_parameter');
  if (present('suffix'))
    throw badRequest('suffix is not supported', 'suffix', 'unsupported_parameter');
  if (body.echo === true)
    throw badRequest('echo is not supported', 'echo', 'unsupported_parameter');
}

/** Flattens message content (string or text parts) to text; other part types are rejected. */
export function messageText(content: unknown, index: number): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return (content as unknown[])
    .map((part, j) => {
      const parsed = TextPart.safeParse(part);
      if (!parsed.success)
        throw badRequest(
          `only text content parts are supported (messages[${index}].content[${j}])`,
          `messages[${index}].content`,
        );
      return parsed.data.text;
    })
    .join('');
}

export const ErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string(),
      param: z.string().nullable(),
      code: z.string().nullable(),
    }),
  })
  .openapi('Error');

export const UsageSchema = z
  .object({
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
  })
  .openapi('Usage');

export const ModelCardSchema = z
  .object({
    id: z.string(),
    object: z.literal('model'),
    created: z.number().int(),
    owned_by: z.string(),
    max_model_len: z.number().int().optional(),
    backend: z.string().optional(),
  })
  .openapi('Model');
