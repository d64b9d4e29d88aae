/**
 * POST /internal/generate: one non-streaming generation on the edge model, for smoke tests and benchmarks. It runs
 * through the same engine as the OpenAI routes (interleaved forwards, the prefix cache).
 * Body: { prompt_ids | prompt [+ chat], max_tokens, the decode fields of the OpenAI routes, mode? }
 *   → { model, tokens, text, finish_reason, seed, prompt_tokens, stats }.
 */
import type { Context } from 'hono';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { DecodeOptionsError, type DecodeResult } from '../decode/index.ts';
import { TemplateError } from '../model/text-codec.ts';
import type { ModelEngine, OpenModel } from '../api/engine.ts';
import { badRequest } from '../api/errors.ts';
import {
  decodeFields,
  decodeOptionsApiError,
  toDecodeOptions,
} from '../api/protocol/decode-fields.ts';

export const GenerateBody = z.strictObject({
  ...decodeFields,
  prompt_ids: z.array(z.number().int()).optional(),
  prompt: z.string().optional(),
  chat: z.boolean().optional(),
  max_tokens: z.number().int(),
  mode: z.enum(['reference', 'cached']).optional(),
});

export type GenerateBody = z.infer<typeof GenerateBody>;

async function readBody(c: Context): Promise<GenerateBody> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw badRequest('the request body is not valid JSON', null, 'invalid_json');
  }
  const parsed = GenerateBody.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue.path.length ? issue.path.map(String).join('.') : null;
    throw badRequest(param ? `${param}: ${issue.message}` : issue.message, param);
  }
  const body = parsed.data;
  if ((body.prompt_ids === undefined) === (body.prompt === undefined))
    throw badRequest('give exactly one of prompt_ids or prompt', 'prompt');
  if (body.chat && body.prompt === undefined)
    throw badRequest('chat applies to prompt only', 'chat');
  return body;
}

function promptIds(b: GenerateBody, { codec }: OpenModel): number[] {
  if (b.prompt_ids) return b.prompt_ids;
  try {
    return codec.encode(
      b.chat ? codec.applyChatTemplate([{ role: 'user', content: b.prompt! }]) : b.prompt!,
    );
  } catch (e: unknown) {
    if (e instanceof TemplateError) throw badRequest(e.message, 'chat');
    throw e;
  }
}

/** Keeps the isolate working on a load the client may abandon (workerd cancels a finished request's I/O). */
function keepAlive(c: Context, p: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(p.catch(() => undefined));
  } catch {
    // No ExecutionContext (app.request in Node tests): nothing to extend.
  }
}

/** Runs one generation to its result; a bad option is a 400 naming this route's field. */
async function run(model: OpenModel, ids: number[], body: GenerateBody): Promise<DecodeResult> {
  const options = { ...toDecodeOptions(body), ...(body.mode ? { mode: body.mode } : {}) };
  const aliases = { promptIds: body.prompt_ids ? 'prompt_ids' : 'prompt' };
  try {
    for await (const ev of model.decode(ids, options)) if (ev.type === 'done') return ev.result;
  } catch (e: unknown) {
    if (e instanceof DecodeOptionsError) throw decodeOptionsApiError(e, aliases);
    throw e;
  }
  throw new Error('decode ended without a result');
}

/** The route handler for `engine`. */
export function generateHandler(engine: ModelEngine) {
  return async function internalGenerate(c: Context): Promise<Response> {
    const body = await readBody(c);
    const opening = engine.open();
    keepAlive(c, opening);
    const model = await opening;
    const ids = promptIds(body, model);
    const result = await run(model, ids, body);
    return c.json({
      model: engine.id,
      tokens: result.tokens,
      text: model.codec.decode(result.tokens),
      finish_reason: result.finishReason,
      seed: result.seed,
      prompt_tokens: ids.length,
      stats: result.stats,
    });
  };
}

/** POST /internal/generate in the OpenAPI document (an operator route: the admin token). */
export function documentGenerateRoute(registry: OpenAPIHono['openAPIRegistry']): void {
  registry.registerPath({
    method: 'post',
    path: '/internal/generate',
    operationId: 'internalGenerate',
    summary: 'One generation on the edge model, token ids in and out (smoke tests, benchmarks)',
    tags: ['Admin'],
    security: [{ adminToken: [] }],
    request: {
      body: { content: { 'application/json': { schema: GenerateBody } }, required: true },
    },
    responses: {
      200: {
        description: '{ model, tokens, text, finish_reason, seed, prompt_tokens, stats }',
        content: { 'application/json': { schema: z.looseObject({ tokens: z.array(z.number()) }) } },
      },
      400: { description: 'Invalid body (the envelope names the field)' },
      401: { description: 'Missing or wrong admin token' },
    },
  });
}
