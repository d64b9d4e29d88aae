/**
 * POST /internal/generate: one non-streaming generation on the edge model, for smoke tests and benchmarks.
 * Body: { prompt_ids | prompt [+ chat], max_tokens, block_length?, steps?, threshold?, temperature?, top_k?,
 * top_p?, seed?, eos_early_stop?, mode? } → { model, tokens, text, finish_reason, seed, prompt_tokens, stats }.
 */
import type { Context } from 'hono';
import { z } from 'zod';
import { ApiError, badRequest } from '../api/errors.ts';
import { DecodeOptionsError, generate, type DecodeOptions } from '../decode/index.ts';
import { TemplateError } from '../model/text-codec.ts';
import type { EdgeModel, ModelEngine } from './engine.ts';

const GenerateBody = z.strictObject({
  prompt_ids: z.array(z.number().int()).optional(),
  prompt: z.string().optional(),
  chat: z.boolean().optional(),
  max_tokens: z.number().int(),
  block_length: z.number().int().optional(),
  steps: z.number().int().optional(),
  threshold: z.number().optional(),
  temperature: z.number().optional(),
  top_k: z.number().int().optional(),
  top_p: z.number().optional(),
  seed: z.number().int().optional(),
  eos_early_stop: z.boolean().optional(),
  mode: z.enum(['reference', 'cached']).optional(),
});

export type GenerateBody = z.infer<typeof GenerateBody>;

/** DecodeOptions names → this route's field names. */
const FIELDS: Record<string, string> = {
  maxTokens: 'max_tokens',
  blockLength: 'block_length',
  topK: 'top_k',
  topP: 'top_p',
  eosEarlyStop: 'eos_early_stop',
};

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

function decodeOptions(b: GenerateBody): DecodeOptions {
  const options: DecodeOptions = {
    maxTokens: b.max_tokens,
    blockLength: b.block_length,
    steps: b.steps,
    threshold: b.threshold,
    temperature: b.temperature,
    topK: b.top_k,
    topP: b.top_p,
    seed: b.seed,
    eosEarlyStop: b.eos_early_stop,
    mode: b.mode,
  };
  for (const k of Object.keys(options) as (keyof DecodeOptions)[])
    if (options[k] === undefined) delete options[k];
  return options;
}

function promptIds(b: GenerateBody, { codec }: EdgeModel): number[] {
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

/** Runs the decode loop; a DecodeOptionsError becomes a 400 naming this route's field. */
async function run(model: EdgeModel, ids: number[], body: GenerateBody) {
  try {
    return await generate(model.runner, ids, decodeOptions(body));
  } catch (e: unknown) {
    if (!(e instanceof DecodeOptionsError)) throw e;
    const root = e.param.split('.')[0];
    const param =
      root === 'promptIds' ? (body.prompt_ids ? 'prompt_ids' : 'prompt') : (FIELDS[root] ?? root);
    throw new ApiError(400, 'invalid_request_error', e.message.replace(/^[\w.]+: /, `${param}: `), {
      param,
    });
  }
}

/** The route handler for `engine`. */
export function generateHandler(engine: ModelEngine) {
  return async function internalGenerate(c: Context): Promise<Response> {
    const body = await readBody(c);
    const loading = engine.model();
    keepAlive(c, loading);
    const model = await loading;
    const ids = promptIds(body, model);
    const result = await run(model, ids, body);
    return c.json({
      model: engine.name,
      tokens: result.tokens,
      text: model.codec.decode(result.tokens),
      finish_reason: result.finishReason,
      seed: result.seed,
      prompt_tokens: ids.length,
      stats: result.stats,
    });
  };
}
