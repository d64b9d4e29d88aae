/**
 * Concurrent bursts against every per-tenant limit — rpm, tpm, max_concurrent, max_tokens, budget — counting
 * what was admitted against the limit from the responses and from both usage endpoints. A bucket refills while
 * the burst runs, so the rate limits allow limit × (1 + burst seconds / 60).
 */
import type { ScenarioContext, TenantKey, Scenario } from '../context.ts';
import { errorCode, usageOf, type Exchange } from '../http.ts';
import { completion, deliveredTokens, LONG_PROMPT, reconcile, totalTokens } from './common.ts';

const ok = (e: Exchange) => e.status === 200;
const streamed = (on: boolean) =>
  on ? { stream: true, stream_options: { include_usage: true } } : {};

/** Tokens one admitted request used by its own answer (a stream without usage: what it delivered). */
function used(ctx: ScenarioContext, e: Exchange): number {
  return usageOf(e) ? totalTokens(e) : ctx.tokens.count(LONG_PROMPT) + deliveredTokens(ctx, e);
}

function answered(ctx: ScenarioContext, es: Exchange[]): number {
  return es.reduce((s, e) => s + used(ctx, e), 0);
}

/** Admitted requests, in the order their answers began, that took the token total past `allowed`. */
function overTokenLimit(ctx: ScenarioContext, es: Exchange[], allowed: number): number {
  let total = 0;
  let over = 0;
  for (const e of [...es].sort((a, b) => (a.headersAt ?? 0) - (b.headersAt ?? 0))) {
    total += used(ctx, e);
    if (total > allowed) over++;
  }
  return over;
}
const span = (es: Exchange[]) =>
  Math.max(...es.map((e) => e.endedAt)) - Math.min(...es.map((e) => e.sentAt));

/** Every refusal must be a 429 (or a 400 for a request that can never fit): anything else is reported. */
function checkRefusals(ctx: ScenarioContext, es: Exchange[], what: string) {
  for (const e of es)
    if (!ok(e) && e.status !== 429 && e.status !== 400 && e.status !== null && e.status < 500)
      throw new Error(`${what}: unexpected ${e.status} ${JSON.stringify(e.json)}`);
}

async function rpm(ctx: ScenarioContext, burst: number) {
  const limit = 4;
  const t = await ctx.tenant({ rpm: limit });
  const es = await Promise.all(
    Array.from({ length: burst }, () => ctx.send(completion(ctx, t.key, { max_tokens: 1 }))),
  );
  checkRefusals(ctx, es, 'rpm');
  const admitted = es.filter(ok);
  const allowed = Math.floor(limit * (1 + span(es) / 60_000));
  if (admitted.length > allowed)
    ctx.fail(
      'limitViolations',
      admitted.length - allowed,
      `rpm ${limit}: ${admitted.length} of ${burst} concurrent requests admitted`,
    );
  if (!admitted.length) throw new Error('rpm: no request was admitted');
  await reconcile(ctx, t, admitted, `rpm ${limit}`);
}

/** A burst of 45-token requests plus one many-prompts × n request that can never fit the bucket. */
async function tpm(ctx: ScenarioContext, burst: number) {
  const limit = 200;
  const t = await ctx.tenant({ tpm: limit });
  const greedy = completion(ctx, t.key, {
    prompt: Array.from({ length: 30 }, () => 'hello'),
    n: 4,
    max_tokens: 40,
  });
  const es = await Promise.all([
    ctx.send(greedy),
    ...Array.from({ length: burst }, (_, i) =>
      ctx.send(completion(ctx, t.key, { max_tokens: 40, ...streamed(i % 2 === 1) })),
    ),
  ]);
  checkRefusals(ctx, es, 'tpm');
  const admitted = es.filter(ok);
  const allowed = limit * (1 + span(es) / 60_000);
  const recorded = await reconcile(ctx, t, admitted, `tpm ${limit}`);
  const worst = Math.max(recorded, answered(ctx, admitted));
  if (worst > allowed)
    ctx.fail(
      'limitViolations',
      Math.max(1, overTokenLimit(ctx, admitted, allowed)),
      `tpm ${limit}: ${admitted.length} requests admitted using ${worst} tokens (allowed ${Math.floor(allowed)} in ${(span(es) / 1000).toFixed(1)} s)` +
        (ok(es[0])
          ? `; a 30-prompt × n=4 request was admitted (${totalTokens(es[0])} tokens)`
          : ''),
    );
}

/** Client-observed overlap of admitted streams: [headers, last content] lies inside the server's lease. */
function maxOverlap(es: Exchange[]): number {
  const points: [number, number][] = [];
  for (const e of es) {
    if (!ok(e) || e.headersAt === null || e.lastDataAt === null) continue;
    // 20 ms off each end absorbs the client's own event-loop delays.
    if (e.lastDataAt - 20 <= e.headersAt + 20) continue;
    points.push([e.headersAt + 20, 1], [e.lastDataAt - 20, -1]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of points) max = Math.max(max, (now += d));
  return max;
}

async function concurrency(ctx: ScenarioContext, clients: number, ms: number) {
  const limit = 2;
  const t = await ctx.tenant({ max_concurrent: limit });
  const end = Date.now() + ms;
  const all: Exchange[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < end) {
        // n: 8 keeps each stream open over many forwards: the demo model answers `hello` with EOS within a few ms.
        const e = await ctx.send(completion(ctx, t.key, { max_tokens: 120, n: 8, stream: true }));
        all.push(e);
        if (e.status === 429) await new Promise((r) => setTimeout(r, 10));
      }
    }),
  );
  checkRefusals(ctx, all, 'max_concurrent');
  const overlap = maxOverlap(all);
  if (overlap > limit)
    ctx.fail(
      'limitViolations',
      overlap - limit,
      `max_concurrent ${limit}: ${overlap} streams were open at once`,
    );
  if (overlap < 1) throw new Error('max_concurrent: no stream was admitted');
  await reconcile(ctx, t, all.filter(ok), `max_concurrent ${limit}`);
}

async function maxTokens(ctx: ScenarioContext) {
  const limit = 16;
  const t = await ctx.tenant({ max_tokens: limit });
  const cases: [string, Record<string, unknown>, number][] = [
    ['max_tokens above the cap', { max_tokens: 64 }, 1],
    ['no max_tokens', {}, 1],
    ['no max_tokens, streamed', { stream: true }, 1],
    ['2 prompts × n=2', { prompt: ['hello', 'hello'], n: 2 }, 4],
    [
      '2 prompts × n=2 above the cap, streamed',
      { prompt: ['hello', 'hello'], n: 2, max_tokens: 999, stream: true },
      4,
    ],
    ['max_tokens at the cap', { max_tokens: limit }, 1],
  ];
  const es = await Promise.all(cases.map(([, f]) => ctx.send(completion(ctx, t.key, f))));
  const chatOver = await ctx.send({
    path: '/v1/chat/completions',
    key: t.key,
    body: {
      model: ctx.target.model,
      messages: [{ role: 'user', content: 'hello' }],
      max_completion_tokens: 64,
    },
  });
  cases.push(['chat max_completion_tokens above the cap', {}, 1]);
  es.push(chatOver);
  checkRefusals(ctx, es, 'max_tokens');
  es.forEach((e, i) => {
    if (!ok(e)) return;
    const [what, , choices] = cases[i];
    const completionTokens = usageOf(e)?.completion_tokens ?? 0;
    const perChoice = Math.max(0, ...e.content.map((c) => ctx.tokens.count(c ?? '')));
    if (completionTokens > limit * choices || perChoice > limit)
      ctx.fail(
        'limitViolations',
        1,
        `max_tokens ${limit}: "${what}" answered 200 with ${completionTokens} completion tokens (${perChoice} in one choice)`,
      );
  });
  await reconcile(ctx, t, es.filter(ok), `max_tokens ${limit}`);
}

async function budget(ctx: ScenarioContext, burst: number) {
  const limit = 400;
  const t: TenantKey = await ctx.tenant({ budget_tokens: limit, budget_period: 'day' });
  const es = await Promise.all([
    ctx.send(
      completion(ctx, t.key, {
        prompt: Array.from({ length: 8 }, () => 'hello'),
        n: 2,
        max_tokens: 20,
      }),
    ),
    ...Array.from({ length: burst }, (_, i) =>
      ctx.send(completion(ctx, t.key, { max_tokens: 40, ...streamed(i % 2 === 0) })),
    ),
  ]);
  checkRefusals(ctx, es, 'budget');
  const admitted = es.filter(ok);
  const total = Math.max(
    await reconcile(ctx, t, admitted, `budget ${limit}`),
    answered(ctx, admitted),
  );
  const refusedForQuota = es.filter((e) => errorCode(e) === 'insufficient_quota').length;
  if (total > limit)
    ctx.fail(
      'limitViolations',
      Math.max(1, overTokenLimit(ctx, admitted, limit)),
      `budget ${limit}: ${admitted.length} requests admitted using ${total} tokens`,
    );
  if (!refusedForQuota) throw new Error(`budget: no request was refused with insufficient_quota`);
}

export const limits: Scenario = {
  name: 'limits',
  summary: 'concurrent bursts against rpm, tpm, max_concurrent, max_tokens and budget',
  async run(ctx) {
    const burst = ctx.long ? 48 : 16;
    await rpm(ctx, burst);
    await tpm(ctx, ctx.long ? 24 : 10);
    await concurrency(ctx, ctx.long ? 12 : 6, ctx.long ? 10_000 : 3000);
    await maxTokens(ctx);
    await budget(ctx, burst);
  },
};
