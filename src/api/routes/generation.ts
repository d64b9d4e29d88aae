/** POST /v1/chat/completions and POST /v1/completions: thin handlers over serveGeneration. */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import {
  ChatCompletionRequestSchema,
  ChatCompletionSchema,
  CompletionRequestSchema,
  CompletionSchema,
} from '../protocol/schemas.ts';
import { chatPrompts, completionPrompts } from '../protocol/prompts.ts';
import { CHAT, COMPLETION } from '../serving/flavors.ts';
import { serveGeneration, type GenerationDeps } from '../serving/serve-generation.ts';
import { bodyErrorResponses, errorResponses, sseStream } from './openapi.ts';
import { cappedBody } from './capped-body.ts';

const chatRoute = createRoute({
  method: 'post',
  path: '/v1/chat/completions',
  operationId: 'createChatCompletion',
  middleware: cappedBody('chat'),
  summary: 'Chat completion (JSON, or an SSE stream of chunks with `stream: true`)',
  request: {
    body: {
      content: { 'application/json': { schema: ChatCompletionRequestSchema } },
      required: true,
    },
  },
  responses: {
    200: {
      description: 'A chat completion, or an SSE stream of `chat.completion.chunk` objects',
      content: { 'application/json': { schema: ChatCompletionSchema }, ...sseStream },
    },
    ...errorResponses,
    ...bodyErrorResponses,
  },
});

const completionRoute = createRoute({
  method: 'post',
  path: '/v1/completions',
  operationId: 'createCompletion',
  middleware: cappedBody('completion'),
  summary: 'Text completion (JSON, or an SSE stream of chunks with `stream: true`)',
  request: {
    body: { content: { 'application/json': { schema: CompletionRequestSchema } }, required: true },
  },
  responses: {
    200: {
      description: 'A completion, or an SSE stream of `text_completion` chunks',
      content: { 'application/json': { schema: CompletionSchema }, ...sseStream },
    },
    ...errorResponses,
    ...bodyErrorResponses,
  },
});

export function generationRoutes(app: OpenAPIHono, deps: GenerationDeps): void {
  app.openapi(
    chatRoute,
    (c) =>
      serveGeneration(c, deps, {
        flavor: CHAT,
        body: c.req.valid('json'),
        promptParam: 'messages',
        prompts: chatPrompts,
      }) as never,
  );

  app.openapi(
    completionRoute,
    (c) =>
      serveGeneration(c, deps, {
        flavor: COMPLETION,
        body: c.req.valid('json'),
        promptParam: 'prompt',
        prompts: completionPrompts,
      }) as never,
  );
}
