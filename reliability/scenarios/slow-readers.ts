/**
 * Slow readers: SSE clients that stop reading after the role chunk, or read 1 KiB/s, and keep their connections
 * open, while another tenant makes small requests. Once the slow streams' generations are done (their usage
 * records exist), the other tenant's p50 must be within 2× of idle; the server's memory (RSS of serve:api, of
 * workerd for the Worker) must stay within 128 MiB of where the same streams read at full speed left it (V8 heaps
 * move by tens of MiB under request churn, so only gross growth is judged; the figure is reported); and once the
 * slow clients hang up, what they received is charged and their slots are free.
 *
 * On a CPU the model produces tens of KB/s per stream, far less than the kernel's socket buffers hold (~4 MiB per
 * loopback connection here), so unbounded server-side buffering behind a slow reader cannot show in CI time.
 */
import type { ScenarioContext, TenantKey, Scenario } from '../context.ts';
import type { Exchange } from '../http.ts';
import { median } from '../figures.ts';
import {
  completion,
  deliveredTokens,
  idleP50,
  judgeLatency,
  probeWhile,
  sleep,
  tokensFor,
  waitFor,
} from './common.ts';

const MIB = 1 << 20;
const RSS_BOUND_MIB = 128;

/** Usage records of `tenants` for the answered exchanges, waiting up to `ms` for all to appear. */
async function recordsFor(ctx: ScenarioContext, tenants: TenantKey[], es: Exchange[], ms: number) {
  const all = async () => (await Promise.all(tenants.map((t) => ctx.records(t.id)))).flat();
  const ids = es.filter((e) => e.requestId).map((e) => e.requestId!);
  return (
    (await waitFor(async () => {
      const rs = await all();
      return ids.every((id) => rs.some((r) => r.requestId === id)) && rs;
    }, ms)) ?? (await all())
  );
}

export const slowReaders: Scenario = {
  name: 'slow-readers',
  summary: 'SSE clients that read slowly or not at all, beside a well-behaved tenant',
  async run(ctx) {
    const victim = await ctx.tenant();
    const perTenant = ctx.long ? 16 : 4;
    const slow = [
      await ctx.tenant({ max_concurrent: perTenant }),
      await ctx.tenant({ max_concurrent: perTenant }),
    ];
    const body = {
      max_tokens: await tokensFor(ctx, 500),
      stream: true,
      stream_options: { include_usage: true, include_denoising: true },
    };
    // The same streams read at full speed first: the server's memory reaches its working size, so what grows
    // next is what slow readers cost.
    await Promise.all(
      slow.flatMap((t) =>
        Array.from({ length: perTenant }, () => ctx.send(completion(ctx, t.key, body))),
      ),
    );
    const idleBefore = await idleP50(ctx, victim.key, 15);
    const rss0 = await ctx.target.rss();
    let peak = rss0 ?? 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await ctx.target.rss()) ?? 0);
        await sleep(250);
      }
    })();
    const holdMs = ctx.long ? 60_000 : 6000;
    const streams = slow.flatMap((t) =>
      Array.from({ length: perTenant }, (_, i) =>
        ctx.send(
          completion(ctx, t.key, body, {
            label: i % 2 ? 'a stream read at 1 KiB/s' : 'a stream not read after its headers',
            ...(i % 2 ? { readBytesPerSecond: 1024 } : { pauseAfterBytes: 0 }),
            // The slow clients hang up when the phase ends.
            timeoutMs: holdMs,
          }),
        ),
      ),
    );
    // The slow streams' generations end (records appear) while their clients still hold them.
    const started = Date.now();
    await sleep(200);
    await waitFor(async () => {
      const rs = (await Promise.all(slow.map((t) => ctx.records(t.id)))).flat();
      return rs.length >= 2 * slow.length * perTenant;
    }, holdMs / 2);
    const loaded = await probeWhile(
      ctx,
      victim.key,
      (n) => Date.now() - started < holdMs - 500 || n < 10,
    );
    const done = await Promise.all(streams);
    sampling = false;
    await sampler;
    const p50 = median(loaded);
    const idle = Math.min(idleBefore, await idleP50(ctx, victim.key, 15));
    ctx.measure('p50SlowIdleMs', idle);
    ctx.measure('p50SlowReadersMs', p50);
    ctx.measure('slowReaderSlowdown', judgeLatency(ctx, idle, p50, `${done.length} slow readers`));
    ctx.measure('slowStreamKiB', done.reduce((s, e) => s + e.bytes, 0) / 1024);
    if (rss0 !== null) {
      const growth = (peak - rss0) / MIB;
      ctx.measure('rssGrowthMiB', growth);
      if (growth > RSS_BOUND_MIB)
        ctx.fail(
          'memory',
          1,
          `memory: the server grew ${growth.toFixed(0)} MiB beside ${done.length} slow readers (bound ${RSS_BOUND_MIB} MiB)`,
        );
    }

    // After the slow clients left: their slots are free, and what they received was charged.
    for (const t of slow) {
      const free = await waitFor(async () => {
        const es = await Promise.all(
          Array.from({ length: perTenant }, () =>
            ctx.send(completion(ctx, t.key, { max_tokens: 8, stream: true })),
          ),
        );
        return es.every((e) => e.status === 200);
      }, 3000);
      if (!free)
        ctx.fail(
          'stuckSlots',
          perTenant,
          `max_concurrent ${perTenant}: after its slow readers hung up, ${perTenant} new streams were not all admitted within 3 s`,
        );
    }
    const records = await recordsFor(ctx, slow, done, 3000);
    for (const e of done.filter((x) => x.requestId)) {
      const record = records.find((r) => r.requestId === e.requestId);
      const delivered = deliveredTokens(ctx, e);
      if (!record) {
        ctx.fail('usageRecordsLost', 1, `${e.label}: no usage record after the client left`);
        if (delivered) ctx.fail('tokensNotCharged', delivered, `${e.label}: unrecorded`);
      } else if (record.completionTokens < delivered)
        ctx.fail(
          'tokensNotCharged',
          delivered - record.completionTokens,
          `${e.label}: ${delivered} tokens delivered, ${record.completionTokens} charged`,
        );
    }
  },
};
