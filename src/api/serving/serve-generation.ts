/**
 * One generation request end to end, shared by the chat and completions routes. The order is the point: cheap
 * checks (unsupported fields, choice count, max_tokens cap, model access), then admission against the tenant's
 * limits, and only then the expensive work (opening the model, tokenizing, which is bounded by the context),
 * the full reservation once the prompt is counted, and the answer (JSON or SSE) with one settlement. One
 * exception keeps a token-limited request to one limiter call: with the model already loaded and a small body,
 * the prompt is tokenized (no model work) before admission, which then reserves it exactly.
 */
import type { Context } from 'hono';
import type { EngineRegistry, ModelEngine, OpenModel } from '../engine.ts';
import type { GenerationRequest } from '../protocol/schemas.ts';
import { knownPromptTokens, type PromptSource } from '../protocol/prompts.ts';
import { rejectUnsupported } from '../protocol/unsupported.ts';
import type { Flavor } from './flavors.ts';
import { StaleTenantError, type Meter } from './metering.ts';
import { ApiError } from '../errors.ts';
import { authError } from '../auth.ts';
import type { Tenant, TenantStore } from '../tenancy.ts';

/**
 * For a request that failed before its admission call checked its key: checks the key now (a bad one throws
 * the 401) and returns true when the tenant's current record differs from the copy the request was checked
 * against (it is then the context's tenant, and the request deserves another check). The key is then settled:
 * a retry admits through the ordinary call.
 */
async function recheckDeferredKey(c: Context, tenants: TenantStore | undefined): Promise<boolean> {
  const pending = c.get('pendingAuth');
  if (!pending || pending.settled || !tenants) return false;
  pending.settled = true;
  const outcome = await tenants.authenticate(pending.auth.apiKey);
  if (!outcome.ok) throw authError(outcome.reason);
  c.set('keyId', outcome.keyId);
  if (JSON.stringify(outcome.tenant) === JSON.stringify(c.get('tenant'))) return false;
  c.set('tenant', outcome.tenant);
  return true;
}
import {
  checkChoiceCount,
  completionLength,
  findEngine,
  openEngine,
  prepareOptions,
  requestedMaxTokens,
  type Prepared,
} from './prepare.ts';
import { encodePrompts } from './prompts.ts';
import { respond } from './respond.ts';
import { grammarFor } from './structured.ts';
import type { GrammarService } from '../../grammar/index.ts';
import type { ChoiceTools } from './generation.ts';
import { forcedCallOpening } from './tool-prompt.ts';
import { ServerTiming } from './server-timing.ts';

/** The tools a chat request offers, as the output parser needs them (null: no tools, plain text). */
function choiceTools(model: OpenModel, sources: PromptSource[]): ChoiceTools | null {
  const source = sources[0];
  if (!source || !('messages' in source) || source.tools.tools.length === 0) return null;
  const plan = source.tools;
  return {
    names: new Set(plan.tools.map((t) => t.function.name)),
    parallel: plan.parallel,
    opening: forcedCallOpening(model.codec, plan),
  };
}

export interface GenerationDeps {
  engines: EngineRegistry;
  meter: Meter;
  /** Checks a key whose check was left to the admission call when the request failed before it. */
  tenants?: TenantStore;
  keepAliveMs: number;
  /** The grammar engine for response_format (structured output); absent: refused. */
  grammar?: GrammarService;
  /** A stream whose client accepts no data for this long is ended as gone (see RespondOptions). */
  stallTimeoutMs: number;
}

export interface GenerationRoute<B extends GenerationRequest> {
  flavor: Flavor;
  body: B;
  /** The field that carries the prompt, for errors ('messages' or 'prompt'). */
  promptParam: string;
  /** The prompts before tokenization (chat: the messages; completions: one or more texts or id lists). */
  prompts: (body: B) => PromptSource[];
}

export async function serveGeneration<B extends GenerationRequest>(
  c: Context,
  deps: GenerationDeps,
  route: GenerationRoute<B>,
): Promise<Response> {
  const timing = new ServerTiming();
  const response = await serveChecked(c, deps, route, timing);
  // A stream's header went out before its generation (admission only); a JSON answer has it all.
  if (route.body.stream !== true) response.headers.set('server-timing', timing.header());
  return response;
}

async function serveChecked<B extends GenerationRequest>(
  c: Context,
  deps: GenerationDeps,
  route: GenerationRoute<B>,
  timing: ServerTiming,
): Promise<Response> {
  const serveOnce = () => serveTimed(c, deps, route, timing);
  try {
    return await serveOnce();
  } catch (e: unknown) {
    // A check failed against this isolate's copy of the tenant before the admission call checked the key: the
    // key is checked now (a bad key is a 401), and against the current record the request is checked again.
    if (!(e instanceof StaleTenantError)) {
      if (!(await recheckDeferredKey(c, deps.tenants))) throw e;
      return serveOnce();
    }
    // The tenant's record changed since this isolate's copy (an admin write): nothing was admitted; the checks
    // run again against the current record (now in the context), once.
    return serveOnce().catch((again: unknown) => {
      if (!(again instanceof StaleTenantError)) throw again;
      throw new ApiError(503, 'server_error', 'Your account settings are being changed; retry.', {
        code: 'tenant_changing',
        retryAfterSeconds: 1,
      });
    });
  }
}

/** Requests at most this large (bytes) have their prompt counted before admission; longer ones after it. */
export const COUNT_BEFORE_ADMISSION_MAX_BYTES = 64 * 1024;

/**
 * Under token limits the admission must reserve the prompt. When the model is already loaded in this process
 * and the request is small, the prompt is tokenized first (no model work), so the one admission call reserves it
 * exactly; otherwise (cold model, long prompt) it is counted after admission and reserved by a second call.
 */
async function countBeforeAdmission(
  c: Context,
  engine: ModelEngine,
  tenant: Tenant,
  sources: PromptSource[],
  promptParam: string,
): Promise<{ model: OpenModel; prompts: number[][] } | null> {
  if (tenant.tpm === null && tenant.budgetTokens === null) return null;
  const bytes = Number.parseInt(c.req.header('content-length') ?? '', 10);
  if (!(bytes <= COUNT_BEFORE_ADMISSION_MAX_BYTES)) return null;
  if (engine.loadStatus?.().state !== 'ready') return null;
  const model = await openEngine(engine);
  return { model, prompts: await encodePrompts(model, sources, promptParam) };
}

async function serveTimed<B extends GenerationRequest>(
  c: Context,
  deps: GenerationDeps,
  route: GenerationRoute<B>,
  timing: ServerTiming,
): Promise<Response> {
  const { body, promptParam } = route;
  const tenant = c.get('tenant');
  rejectUnsupported(body as Record<string, unknown>);
  const sources = route.prompts(body);
  const n = body.n ?? 1;
  checkChoiceCount(sources.length, n, promptParam);
  const { requested } = requestedMaxTokens(body, tenant);
  const engine = findEngine(deps.engines, tenant, body.model);
  let model: OpenModel | undefined;
  const choices = sources.length * n;
  const counted = await countBeforeAdmission(c, engine, tenant, sources, promptParam);
  model = counted?.model;
  const metered = await timing.time('admission', () =>
    deps.meter(c, {
      tenant,
      model: engine.id,
      backend: () => model?.backend ?? engine.backend,
      reservedTokens: counted
        ? counted.prompts.reduce((s, p) => s + p.length, 0) +
          completionLength(requested, tenant, counted.model, counted.prompts) * choices
        : knownPromptTokens(sources) + (requested ?? 1) * choices,
    }),
  );
  let prepared: Prepared;
  try {
    model ??= await openEngine(engine);
    const prompts = counted?.prompts ?? (await encodePrompts(model, sources, promptParam));
    const constraint = await grammarFor(deps.grammar, body.response_format, model);
    const rest = prepareOptions(body, tenant, model, prompts, promptParam, constraint);
    prepared = { engine, model, prompts, ...rest, tools: choiceTools(model, sources) };
    await metered.reserve(prompts.reduce((s, p) => s + p.length, 0) + rest.maxTokens * choices);
  } catch (e: unknown) {
    metered.cancel();
    throw e;
  }
  if (body.stream === true) c.header('server-timing', timing.header());
  return timing.time('model', () =>
    respond(c, {
      flavor: route.flavor,
      prepared,
      modelId: engine.id,
      stream: body.stream === true,
      keepAliveMs: deps.keepAliveMs,
      stallTimeoutMs: deps.stallTimeoutMs,
      headers: metered.headers,
      onDone: (outcome) => metered.settle(outcome),
      includeUsage: body.stream_options?.include_usage === true,
      includeDenoising: body.stream_options?.include_denoising === true,
      promptParam,
    }),
  );
}
