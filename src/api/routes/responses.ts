/** POST /v1/responses: the Responses API over the chat path (see protocol/responses.ts). */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { cappedBody } from './capped-body.ts';
import { ResponseRequestSchema, toChatRequest } from '../protocol/responses.ts';
import { chatPrompts } from '../protocol/prompts.ts';
import { responsesFlavor } from '../serving/responses-wire.ts';
import { serveGeneration, type GenerationDeps } from '../serving/serve-generation.ts';
import { bodyErrorResponses, errorResponses, sseStream } from './openapi.ts';

const OutputItemSchema = z
  .object({
    type: z.enum(['message', 'function_call']),
    id: z.string(),
    status: z.string(),
    role: z.literal('assistant').optional(),
    content: z
      .array(
        z.object({
          type: z.literal('output_text'),
          text: z.string(),
          annotations: z.array(z.unknown()),
          logprobs: z.array(z.unknown()).optional(),
        }),
      )
      .optional(),
    call_id: z.string().optional(),
    name: z.string().optional(),
    arguments: z.string().optional(),
  })
  .openapi('ResponseOutputItem');

export const ResponseSchema = z
  .object({
    id: z.string(),
    object: z.literal('response'),
    created_at: z.number().int(),
    status: z.enum(['completed', 'incomplete', 'in_progress']),
    incomplete_details: z.object({ reason: z.string() }).nullable(),
    model: z.string(),
    output: z.array(OutputItemSchema),
    usage: z.object({
      input_tokens: z.number().int(),
      input_tokens_details: z.object({ cached_tokens: z.number().int() }),
      output_tokens: z.number().int(),
      output_tokens_details: z.object({ reasoning_tokens: z.number().int() }),
      total_tokens: z.number().int(),
    }),
  })
  .openapi('Response');

const responsesRoute = createRoute({
  method: 'post',
  path: '/v1/responses',
  operationId: 'createResponse',
  middleware: cappedBody('responses'),
  summary: 'Create a response (JSON, or an SSE stream of typed events with `stream: true`)',
  description:
    'Stateless: `store` is ignored and `previous_response_id` is refused; send the conversation as `input`.',
  request: {
    body: { content: { 'application/json': { schema: ResponseRequestSchema } }, required: true },
  },
  responses: {
    200: {
      description:
        'A response object, or an SSE stream of `response.*` events ending with response.completed',
      content: { 'application/json': { schema: ResponseSchema }, ...sseStream },
    },
    ...errorResponses,
    ...bodyErrorResponses,
  },
});

export function responsesRoutes(app: OpenAPIHono, deps: GenerationDeps): void {
  app.openapi(responsesRoute, (c) => {
    const req = c.req.valid('json');
    return serveGeneration(c, deps, {
      flavor: responsesFlavor(req),
      body: toChatRequest(req),
      promptParam: 'input',
      prompts: chatPrompts,
    }) as never;
  });
}
