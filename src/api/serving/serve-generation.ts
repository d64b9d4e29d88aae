/**
 * One generation request end to end, shared by the chat and completions routes: refuse what is unsupported, find
 * and open the engine, tokenize, validate the options, admit against the tenant's limits, then answer (JSON or
 * SSE) and settle the metering exactly once.
 */
import type { Context } from 'hono';
import type { EngineRegistry, OpenModel } from '../engine.ts';
import type { GenerationRequest } from '../protocol/schemas.ts';
import { rejectUnsupported } from '../protocol/unsupported.ts';
import type { Flavor } from './flavors.ts';
import type { Meter } from './metering.ts';
import { findEngine, openEngine, prepareOptions, type Prepared } from './prepare.ts';
import { respond } from './respond.ts';

export interface GenerationDeps {
  engines: EngineRegistry;
  meter: Meter;
  keepAliveMs: number;
}

export interface GenerationRoute<B extends GenerationRequest> {
  flavor: Flavor;
  body: B;
  /** The field that carries the prompt, for errors ('messages' or 'prompt'). */
  promptParam: string;
  /** The prompts as token ids (chat: the rendered template; completions: one or more prompts). */
  toPrompts: (model: OpenModel, body: B) => number[][];
}

export async function serveGeneration<B extends GenerationRequest>(
  c: Context,
  deps: GenerationDeps,
  route: GenerationRoute<B>,
): Promise<Response> {
  const { body } = route;
  const tenant = c.get('tenant');
  rejectUnsupported(body as Record<string, unknown>);
  const engine = findEngine(deps.engines, tenant, body.model);
  const model = await openEngine(engine);
  const prompts = route.toPrompts(model, body);
  const rest = prepareOptions(body, tenant, model, prompts, route.promptParam);
  const prepared: Prepared = { engine, model, prompts, ...rest };
  const reservedTokens =
    prompts.reduce((s, p) => s + p.length, 0) + rest.maxTokens * rest.n * prompts.length;
  const metered = await deps.meter(c, {
    tenant,
    model: engine.id,
    backend: () => model.backend ?? engine.backend,
    reservedTokens,
  });
  return respond(c, {
    flavor: route.flavor,
    prepared,
    modelId: engine.id,
    stream: body.stream === true,
    keepAliveMs: deps.keepAliveMs,
    headers: metered.headers,
    onDone: (outcome) => metered.settle(outcome),
    includeUsage: body.stream_options?.include_usage === true,
    includeDenoising: body.stream_options?.include_denoising === true,
  });
}
