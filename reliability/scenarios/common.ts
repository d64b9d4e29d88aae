/** Request shapes and checks the scenarios share. */
import type { ScenarioContext, TenantKey } from '../context.ts';
import { usageOf, type Exchange, type SendOptions } from '../http.ts';
import { median } from '../figures.ts';

/**
 * A completion that runs to max_tokens: the served models continue "hello" with one repeated byte token (the demo
 * model: "lll…"), so prompt + max_tokens is what it really uses.
 */
export const LONG_PROMPT = 'hello';

export function completion(
  ctx: ScenarioContext,
  key: string,
  fields: Record<string, unknown>,
  o: Partial<SendOptions> = {},
): SendOptions {
  return {
    path: '/v1/completions',
    key,
    body: { model: ctx.target.model, prompt: LONG_PROMPT, ...fields },
    ...o,
  };
}

export function chat(
  ctx: ScenarioContext,
  key: string,
  content: string,
  fields: Record<string, unknown> = {},
  o: Partial<SendOptions> = {},
): SendOptions {
  return {
    path: '/v1/chat/completions',
    key,
    body: {
      model: ctx.target.model,
      messages: [{ role: 'user', content }],
      max_tokens: 8,
      ...fields,
    },
    ...o,
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until it returns a value or `timeoutMs` passes (then null). */
export async function waitFor<T>(
  check: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
): Promise<T | null> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) return null;
    await sleep(50);
  }
}

/** Tokens a response says it used (total), 0 when it carries no usage. */
export function totalTokens(e: Exchange): number {
  return usageOf(e)?.total_tokens ?? 0;
}

/** Tokens of the content a client received, counted with the served tokenizer. */
export function deliveredTokens(ctx: ScenarioContext, e: Exchange): number {
  return e.content.reduce((s, text) => s + ctx.tokens.count(text ?? ''), 0);
}

interface UsageView {
  requests: number;
  tokens: number;
  budgetUsed: number | null;
}

/** GET /v1/usage (the tenant's view) and GET /admin/tenants/{id}/usage (the operator's). */
export async function usageViews(
  ctx: ScenarioContext,
  tenant: TenantKey,
): Promise<{ tenant: UsageView; admin: UsageView }> {
  const mine = await ctx.send({ path: '/v1/usage', key: tenant.key });
  const admin = await ctx.send({
    path: `/admin/tenants/${tenant.id}/usage`,
    headers: { authorization: `Bearer ${ctx.target.adminToken}` },
  });
  if (mine.status !== 200 || admin.status !== 200)
    throw new Error(`usage endpoints answered ${mine.status} / ${admin.status}`);
  const m = mine.json as {
    requests: number;
    promptTokens: number;
    completionTokens: number;
    budget?: { usedTokens: number };
  };
  const a = admin.json as {
    requests: number;
    total_tokens: number;
    budget?: { used_tokens: number } | null;
  };
  return {
    tenant: {
      requests: m.requests,
      tokens: m.promptTokens + m.completionTokens,
      budgetUsed: m.budget?.usedTokens ?? null,
    },
    admin: {
      requests: a.requests,
      tokens: a.total_tokens,
      budgetUsed: a.budget?.used_tokens ?? null,
    },
  };
}

/**
 * The admitted requests of a tenant (200s, with their usage) against what both usage endpoints say once the
 * records have settled: records missing → usage records lost; tokens answered but not recorded → not charged.
 * Returns the largest token total any view shows (for limit checks).
 */
export async function reconcile(
  ctx: ScenarioContext,
  tenant: TenantKey,
  admitted: Exchange[],
  what: string,
): Promise<number> {
  const tokens = admitted.reduce((s, e) => s + totalTokens(e), 0);
  const views = await waitFor(async () => {
    const v = await usageViews(ctx, tenant);
    return v.tenant.requests >= admitted.length && v.admin.requests >= admitted.length && v;
  }, 3000);
  const final = views ?? (await usageViews(ctx, tenant));
  for (const [who, v] of Object.entries(final)) {
    if (v.requests < admitted.length)
      ctx.fail(
        'usageRecordsLost',
        admitted.length - v.requests,
        `${what}: ${admitted.length} requests answered 200, ${who} usage shows ${v.requests} after 3 s`,
      );
    if (v.tokens < tokens)
      ctx.fail(
        'tokensNotCharged',
        tokens - v.tokens,
        `${what}: responses report ${tokens} tokens, ${who} usage shows ${v.tokens}`,
      );
  }
  return Math.max(tokens, final.tenant.tokens, final.admin.tokens);
}

/** Latency of a small request a well-behaved tenant makes (chat "sort: dbca", 8 tokens), in ms. */
export async function probeOnce(
  ctx: ScenarioContext,
  key: string,
  timeoutMs = 10_000,
): Promise<number | null> {
  const e = await ctx.send(chat(ctx, key, 'sort: dbca', {}, { timeoutMs }));
  // 5xx and cut connections are counted by ctx.send; a victim left waiting was not served.
  if (e.dropped)
    ctx.fail('unanswered', 1, `a victim request got no answer in ${timeoutMs / 1000} s`);
  if (e.status !== 200) return null;
  return e.endedAt - e.sentAt;
}

/**
 * Probes back to back while `busy()` holds; returns the latencies (a probe that timed out counts as its timeout).
 */
export async function probeWhile(
  ctx: ScenarioContext,
  key: string,
  busy: (probes: number) => boolean,
): Promise<number[]> {
  const out: number[] = [];
  while (busy(out.length)) {
    const t0 = Date.now();
    const ms = await probeOnce(ctx, key);
    out.push(ms ?? Date.now() - t0);
    await sleep(10);
  }
  return out;
}

/** Idle p50: `n` probes with nothing else running. */
export async function idleP50(ctx: ScenarioContext, key: string, n: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const ms = await probeOnce(ctx, key);
    if (ms !== null) xs.push(ms);
  }
  return median(xs);
}

/**
 * The bound on a well-behaved tenant's p50 beside an attack. The promise is 2× idle; --long holds it. The default
 * (CI) mode runs on a small shared machine where the attacker's own client, the server and other jobs share two
 * cores, so there only a gross slowdown fails — over 10× idle and over 1 s, which the stalls this guards against
 * (seconds of event loop blocked by one request) exceed — and the ratio is reported either way.
 */
export const SLOWDOWN_BOUND = { long: 2, default: 10, defaultFloorMs: 1000 } as const;

/** Compares a p50 under load with the idle one; returns the ratio (reported by the caller). */
export function judgeLatency(ctx: ScenarioContext, idle: number, loaded: number, what: string) {
  const ratio = loaded / idle;
  const over = ctx.long
    ? ratio > SLOWDOWN_BOUND.long
    : ratio > SLOWDOWN_BOUND.default && loaded > SLOWDOWN_BOUND.defaultFloorMs;
  if (over)
    ctx.fail(
      'slowDown',
      1,
      `${what}: another tenant's p50 went from ${idle.toFixed(0)} ms idle to ${loaded.toFixed(0)} ms (${ratio.toFixed(1)}×; the bound in ${ctx.long ? '--long mode is 2×' : 'the default mode is 10× and 1 s'})`,
    );
  return ratio;
}

const speed = new WeakMap<object, Promise<number>>();

/**
 * Milliseconds per generated token on this deployment (the faster of two 48-token runs), so attacks can be sized
 * in time: a Worker on a busy CPU is ten times slower than serve:api.
 */
export function msPerToken(ctx: ScenarioContext): Promise<number> {
  let known = speed.get(ctx.target);
  if (!known) {
    known = (async () => {
      const t = await ctx.tenant();
      let best = Infinity;
      for (let i = 0; i < 2; i++) {
        const e = await ctx.send(completion(ctx, t.key, { max_tokens: 48 }));
        if (e.status !== 200) throw new Error(`calibration request answered ${e.status}`);
        best = Math.min(best, (e.endedAt - e.sentAt) / 48);
      }
      return best;
    })();
    speed.set(ctx.target, known);
  }
  return known;
}

/** max_tokens (a multiple of 8, within [lo, hi]) for a generation of about `ms` on this deployment. */
export async function tokensFor(ctx: ScenarioContext, ms: number, lo = 48, hi = 240) {
  const n = Math.round(ms / (await msPerToken(ctx)) / 8) * 8;
  return Math.min(hi, Math.max(lo, n));
}
