/**
 * OpenAI request and response schemas (zod, with OpenAPI metadata). Unknown request fields pass through and are
 * ignored (SDKs send extras); unsupported features are refused by ./unsupported.ts naming the field. The decode
 * knobs, diffusion extensions included, come from ./decode-fields.ts.
 */
import { z } from '@hono/zod-openapi';
import { decodeFields } from './decode-fields.ts';
import { ToolCallSchema, toolFields } from './tools.ts';

const Content = z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]);

export const MessageSchema = z
  .looseObject({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
    content: Content.nullish(),
    name: z.string().optional(),
    /** Assistant turns: the calls the model made. */
    tool_calls: z.array(ToolCallSchema).nullish(),
    /** Tool turns: which call this is the result of. */
    tool_call_id: z.string().nullish(),
  })
  .openapi('ChatMessage');

const StreamOptions = z.looseObject({
  include_usage: z.boolean().nullish(),
  include_denoising: z.boolean().nullish().openapi({
    description:
      'Extension: a chunk per denoising step, with `choices: []` and a `diffusion` member (docs/api.md).',
  }),
});

/** Fields shared by both generation endpoints. */
const generationFields = {
  model: z.string().min(1).openapi({ example: 'unmask-demo' }),
  ...decodeFields,
  stop: z
    .union([z.string(), z.array(z.string())])
    .refine((s) => typeof s === 'string' || s.length <= 4, 'up to 4 stop sequences are allowed')
    .nullish(),
  n: z.number().int().min(1).max(8).nullish(),
  stream: z.boolean().nullish(),
  stream_options: StreamOptions.nullish(),
  user: z.string().nullish(),
};

export const ChatCompletionRequestSchema = z
  .looseObject({
    ...generationFields,
    messages: z.array(MessageSchema).min(1),
    max_completion_tokens: z.number().int().min(1).nullish(),
    ...toolFields,
    logprobs: z.boolean().nullish().openapi({
      description:
        "Each output token's log-probability at the denoising step that committed it (docs/api.md).",
    }),
    top_logprobs: z
      .number()
      .int()
      .min(0)
      .max(20)
      .nullish()
      .openapi({ description: "Alternatives per token, at most the model's top-k head." }),
  })
  .openapi('ChatCompletionRequest');

/**
 * A token-id prompt, checked in one loop: z.array(z.number().int()) costs about 130 ns per element, 17 ms of CPU for
 * the 130,000 ids a body may carry (REQUEST_CAPS), more than parsing them. Ids must be safe integers, as .int() wants.
 */
const tokenIds = z
  .custom<number[]>((v) => Array.isArray(v) && v.length > 0 && v.every(Number.isSafeInteger))
  .openapi({ type: 'array', items: { type: 'integer' }, minItems: 1 });

export const CompletionRequestSchema = z
  .looseObject({
    ...generationFields,
    // Token ids before texts: a union tries its options in order, and a text list checked against a long id list
    // fails once per element (hundreds of ms for a 1 MiB body); the other way round the lists are short.
    prompt: z.union([z.string(), tokenIds, z.array(z.string()).min(1), z.array(tokenIds).min(1)]),
    logprobs: z.number().int().min(0).max(20).nullish().openapi({
      description:
        "Log-probabilities of each output token and this many alternatives, at the denoising step that committed it (at most the model's top-k head).",
    }),
  })
  .openapi('CompletionRequest');

export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;
export type GenerationRequest = ChatCompletionRequest | CompletionRequest;

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
    prompt_tokens_details: z.object({ cached_tokens: z.number().int() }).optional(),
  })
  .openapi('Usage');

/** Unmask's extension on completions: how the diffusion decode went. */
const DiffusionSchema = z
  .object({
    forwards: z.number().int().openapi({ description: 'Model forwards (NFE) over all choices.' }),
    tokens_per_forward: z.number(),
  })
  .openapi('Diffusion');

const FinishReason = z.enum(['stop', 'length', 'tool_calls']);

/** One token's log-probability at the denoising step that committed it (docs/api.md), with alternatives. */
const TokenLogprobSchema = z
  .object({
    token: z.string(),
    logprob: z.number(),
    bytes: z.array(z.number().int()),
    top_logprobs: z.array(
      z.object({ token: z.string(), logprob: z.number(), bytes: z.array(z.number().int()) }),
    ),
  })
  .openapi('TokenLogprob');

export const ChatCompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    system_fingerprint: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({
          role: z.literal('assistant'),
          content: z.string().nullable(),
          refusal: z.null(),
          tool_calls: z.array(ToolCallSchema).optional(),
        }),
        logprobs: z.object({ content: z.array(TokenLogprobSchema), refusal: z.null() }).nullable(),
        finish_reason: FinishReason,
      }),
    ),
    usage: UsageSchema,
    diffusion: DiffusionSchema,
  })
  .openapi('ChatCompletion');

export const CompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal('text_completion'),
    created: z.number().int(),
    model: z.string(),
    system_fingerprint: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        text: z.string(),
        logprobs: z
          .object({
            tokens: z.array(z.string()),
            token_logprobs: z.array(z.number()),
            top_logprobs: z.array(z.record(z.string(), z.number())),
            text_offset: z.array(z.number().int()),
          })
          .nullable(),
        finish_reason: FinishReason,
      }),
    ),
    usage: UsageSchema,
    diffusion: DiffusionSchema,
  })
  .openapi('Completion');

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

export const ModelListSchema = z
  .object({ object: z.literal('list'), data: z.array(ModelCardSchema) })
  .openapi('ModelList');

export const UsageSummarySchema = z
  .object({
    tenantId: z.string(),
    since: z.number().int(),
    requests: z.number().int(),
    promptTokens: z.number().int(),
    completionTokens: z.number().int(),
    byModel: z.record(
      z.string(),
      z.object({
        requests: z.number().int(),
        promptTokens: z.number().int(),
        completionTokens: z.number().int(),
      }),
    ),
    budget: z
      .object({
        period: z.enum(['day', 'month']),
        periodStart: z.number().int(),
        periodEnd: z.number().int(),
        limitTokens: z.number().int(),
        usedTokens: z.number().int(),
        remainingTokens: z.number().int(),
      })
      .optional(),
  })
  .openapi('UsageSummary');
