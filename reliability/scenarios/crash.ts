/**
 * `kill -9` of serve:api under load, then a restart on the same data dir. Afterwards: the tenants file loads and
 * holds every tenant and key the admin API acknowledged; every response the clients completed earlier than the
 * documented window before the kill has its usage record; both usage endpoints agree with the records; and a
 * tenant's budget stays consistent — the spending before the crash counts, and driving the tenant to its limit
 * after the restart never lets it use more than its budget.
 */
import { readdir } from 'node:fs/promises';
import type { ScenarioContext, TenantKey, Scenario } from '../context.ts';
import { errorCode, type Exchange } from '../http.ts';
import {
  completion,
  deliveredTokens,
  LONG_PROMPT,
  sleep,
  totalTokens,
  usageViews,
} from './common.ts';

const BUDGET = 1500;

/** A response the client received in full (with its request id). */
const completed = (e: Exchange) =>
  e.status === 200 && e.requestId !== null && (e.json !== null || e.done);

/** Requests from `tenant` back to back, alternating non-streams and streams, while `going()`. */
async function load(ctx: ScenarioContext, tenant: TenantKey, going: () => boolean) {
  const out: Exchange[] = [];
  for (let i = 0; going(); i++) {
    const e = await ctx.send(
      completion(
        ctx,
        tenant.key,
        i % 2
          ? { max_tokens: 16, stream: true, stream_options: { include_usage: true } }
          : { max_tokens: 8 },
      ),
      { cutExpected: true },
    );
    out.push(e);
    if (errorCode(e) === 'insufficient_quota') await sleep(50);
  }
  return out;
}

export const crash: Scenario = {
  name: 'crash',
  summary: 'kill -9 of serve:api under load, restart on the same data dir',
  only: ['node'],
  async run(ctx) {
    const { target } = ctx;
    if (!target.kill9 || !target.restart || !target.dataDir)
      throw new Error('this deployment cannot be killed and restarted');
    const free = await ctx.tenant();
    const budget = await ctx.tenant({ budget_tokens: BUDGET, budget_period: 'day' });
    const loadMs = ctx.long ? 10_000 : 3000;
    const started = Date.now();
    let killed = false;
    const going = () => !killed;
    const created: string[] = [];
    const admin = (async () => {
      while (going()) {
        const t = await ctx.tenant().catch(() => null);
        if (t) created.push(t.id);
        await sleep(50);
      }
    })();
    const clients = [...Array(ctx.long ? 12 : 8).fill(free), budget, budget, budget, budget].map(
      (t: TenantKey) => load(ctx, t, going),
    );
    await sleep(loadMs);
    const killAt = Date.now();
    killed = true;
    await target.kill9();
    const before = (await Promise.all(clients)).flat();
    await admin;
    ctx.log(`killed after ${killAt - started} ms under load (${before.length} requests)`);
    try {
      await target.restart();
    } catch (e: unknown) {
      ctx.fail(
        'crashes',
        1,
        `serve:api did not start again on its data dir: ${(e as Error).message}`,
      );
      return;
    }

    // Tenants and keys the admin API acknowledged survive.
    const lost = [];
    for (const id of created) {
      const res = await ctx.send({
        path: `/admin/tenants/${id}`,
        headers: { authorization: `Bearer ${target.adminToken}` },
      });
      if (res.status !== 200) lost.push(id);
    }
    const auth = await ctx.send({ path: '/v1/models', key: budget.key });
    if (auth.status !== 200) lost.push(`the key of ${budget.id}`);
    if (lost.length)
      ctx.fail(
        'tenantsLost',
        lost.length,
        `tenants file: ${lost.length} of ${created.length} acknowledged tenants missing after kill -9 (${lost.slice(0, 3).join(', ')})`,
      );
    const stale = (await readdir(target.dataDir)).filter((f) => f.endsWith('.tmp'));
    ctx.measure('staleTempFiles', stale.length);

    // Usage records of the responses completed before the kill.
    const records = await target.records();
    const ids = new Set(records.map((r) => r.requestId));
    const done = before.filter((e) => completed(e) && e.endedAt <= killAt);
    const missing = done.filter((e) => !ids.has(e.requestId!));
    const outside = missing.filter((e) => killAt - e.endedAt > ctx.lossWindowMs);
    ctx.measure('completedBeforeKill', done.length);
    ctx.measure('usageLostInWindow', missing.length - outside.length);
    if (outside.length)
      ctx.fail(
        'usageRecordsLost',
        outside.length,
        `kill -9: ${outside.length} of ${done.length} completed responses have no usage record, the oldest completed ${Math.max(...outside.map((e) => killAt - e.endedAt))} ms before the kill (window ${ctx.lossWindowMs} ms)`,
      );

    // The budget: what was spent before counts after the restart; the total never passes the budget.
    const views = await usageViews(ctx, budget);
    const recorded = records
      .filter((r) => r.tenantId === budget.id)
      .reduce((s, r) => s + r.promptTokens + r.completionTokens, 0);
    for (const [who, v] of Object.entries(views))
      if (v.budgetUsed !== recorded || v.tokens !== recorded)
        ctx.fail(
          'usageRecordsLost',
          1,
          `kill -9: after the restart ${who} usage shows ${v.tokens} tokens (budget used ${v.budgetUsed}), the usage log ${recorded}`,
        );
    const after: Exchange[] = [];
    for (let i = 0; i < 200; i++) {
      const e = await ctx.send(completion(ctx, budget.key, { max_tokens: 16 }));
      after.push(e);
      if (errorCode(e) === 'insufficient_quota') break;
      if (e.status !== 200) throw new Error(`budget: a request answered ${e.status}`);
    }
    // Spent = every completed answer, before and after; the crash may forgive only what it could not record:
    // answers inside the loss window and what streams cut by the kill had delivered.
    const mine = before.filter((e) => e.key === budget.key);
    const spent = [...mine.filter(completed), ...after.filter(completed)].reduce(
      (s, e) => s + totalTokens(e),
      0,
    );
    const forgiven =
      missing
        .filter((e) => e.key === budget.key && !outside.includes(e))
        .reduce((s, e) => s + totalTokens(e), 0) +
      mine
        .filter((e) => !completed(e) && e.status === 200)
        .reduce((s, e) => s + ctx.tokens.count(LONG_PROMPT) + deliveredTokens(ctx, e), 0);
    if (spent > BUDGET + forgiven)
      ctx.fail(
        'limitViolations',
        1,
        `budget ${BUDGET} across kill -9: ${spent} tokens answered before and after the restart (${forgiven} forgiven to the crash)`,
      );
  },
};
