/**
 * Oversized and adversarial requests from hostile tenants — prompts near the 1 MiB body limit (text, chat, token
 * ids), tens of thousands of prompts × n, huge max_tokens, deep JSON, invalid UTF-8 and lone surrogates, huge stop
 * strings, a 12 MiB body, bodies trickled a byte at a time, floods of bad keys, and a tenant whose budget or rate
 * is spent sending the biggest prompt — while another tenant makes small requests. Its p50 latency is reported
 * against idle (the bound: common.ts SLOWDOWN_BOUND), and beside as many well-behaved clients for comparison;
 * nothing may answer 5xx, cut the connection or crash the server, and a 12 MB body sent with Node's fetch gets
 * the documented 413, never a reset.
 */
import net from 'node:net';
import type { ScenarioContext, TenantKey, Scenario } from '../context.ts';
import type { SendOptions } from '../http.ts';
import { chat, completion, idleP50, judgeLatency, probeWhile, sleep } from './common.ts';
import { median } from '../figures.ts';

const MIB = 1 << 20;

/** Text of at most `bytes` UTF-8 bytes (words, digits, punctuation, a few multi-byte characters). */
function text(bytes: number): string {
  const words = ['lorem ', 'ipsum, ', 'dolor: ', '012+345 ', 'sort: ', 'ünïcödé ', '日本 ', '🙂 '];
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; ; i++) {
    const w = words[(i * 7) % words.length];
    const n = Buffer.byteLength(w);
    if (size + n > bytes) break;
    parts.push(w);
    size += n;
  }
  return parts.join('');
}

/** A hostile tenant's limits: generous, but finite. */
const HOSTILE = { tpm: 10_000, max_concurrent: 4 };

interface Attack {
  what: string;
  /** Heavy if mishandled (worth repeating while the victim is measured); else sent once to check the answer. */
  heavy: boolean;
  request: (key: string) => SendOptions;
}

export function attacksFor(ctx: ScenarioContext): Attack[] {
  const model = ctx.target.model;
  const near = MIB - 4096;
  const big = text(near);
  const json = (o: Record<string, unknown>) => Buffer.from(JSON.stringify(o));
  const attack = (
    what: string,
    heavy: boolean,
    path: 'completions' | 'chat/completions',
    body: Buffer | string,
    headers: Record<string, string> = {},
  ): Attack => ({
    what,
    heavy,
    request: (key) => ({
      label: what,
      path: `/v1/${path}`,
      key,
      rawBody: body,
      headers: { 'content-type': 'application/json', ...headers },
    }),
  });
  /** n one-letter turns, user and assistant in turn. */
  const alternatingTurns = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'a' }));
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const m = JSON.stringify(model);
  return [
    attack(
      'a prompt string near the 1 MiB body limit',
      true,
      'completions',
      json({ model, prompt: big, max_tokens: 8 }),
    ),
    attack(
      'a chat message near the 1 MiB body limit',
      true,
      'chat/completions',
      json({ model, messages: [{ role: 'user', content: big }], max_tokens: 8 }),
    ),
    attack(
      'a token-id prompt near the 1 MiB body limit',
      true,
      'completions',
      json({
        model,
        prompt: Array.from({ length: Math.floor(near / 6) }, (_, i) => (i * 31) % 200),
        max_tokens: 8,
      }),
    ),
    attack(
      '40,000 prompts × n=8',
      true,
      'completions',
      json({ model, prompt: Array.from({ length: 40_000 }, () => 'hi'), n: 8, max_tokens: 1 }),
    ),
    attack(
      '30,000 chat messages',
      true,
      'chat/completions',
      json({ model, messages: alternatingTurns(30_000), max_tokens: 8 }),
    ),
    // Under the item caps (REQUEST_CAPS): answered by the cheap bounds, never by rendering or tokenizing it all.
    attack(
      '9,000 chat messages (under the cap)',
      true,
      'chat/completions',
      json({ model, messages: alternatingTurns(9000), max_tokens: 8 }),
    ),
    attack(
      '130,000 token ids (under the cap)',
      true,
      'completions',
      json({
        model,
        prompt: Array.from({ length: 130_000 }, (_, i) => (i * 31) % 200),
        max_tokens: 8,
      }),
    ),
    attack(
      '4 stop strings of 200 KB',
      true,
      'completions',
      json({
        model,
        prompt: 'hello',
        max_tokens: 64,
        stop: Array.from({ length: 4 }, () => text(200_000)),
      }),
    ),
    attack(
      '16 prompts × n=8 × 240 tokens',
      true,
      'completions',
      json({ model, prompt: Array.from({ length: 16 }, () => 'hello'), n: 8, max_tokens: 240 }),
    ),
    attack(
      'JSON nested 100,000 deep in an unknown field',
      false,
      'completions',
      `{"model":${m},"prompt":"hello","max_tokens":4,"x":${deep}}`,
    ),
    attack(
      'JSON nested 100,000 deep as message content',
      false,
      'chat/completions',
      `{"model":${m},"messages":[{"role":"user","content":${deep}}]}`,
    ),
    attack(
      'a 12 MiB body',
      false,
      'completions',
      Buffer.concat([
        Buffer.from(`{"model":${m},"prompt":"`),
        Buffer.alloc(12 * MIB, 'a'),
        Buffer.from('"}'),
      ]),
    ),
    attack(
      'invalid UTF-8 in the prompt',
      false,
      'completions',
      Buffer.concat([
        Buffer.from(`{"model":${m},"prompt":"ab`),
        Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80]),
        Buffer.from('cd","max_tokens":4}'),
      ]),
    ),
    attack(
      'invalid UTF-8 in a chat message',
      false,
      'chat/completions',
      Buffer.concat([
        Buffer.from(`{"model":${m},"messages":[{"role":"user","content":"ab`),
        Buffer.from([0xff, 0xc3, 0x28, 0xe2, 0x82]),
        Buffer.from('"}],"max_tokens":4}'),
      ]),
    ),
    attack(
      'lone surrogates and NULs',
      false,
      'completions',
      `{"model":${m},"prompt":"\\ud800a\\udfff\\u0000\\u0001b","max_tokens":4}`,
    ),
    attack('not JSON', false, 'completions', '{"model": "x", "prompt": [1, 2,'),
    attack('a text/plain body', false, 'completions', json({ model, prompt: 'hello' }), {
      'content-type': 'text/plain',
    }),
    attack(
      'a gzip content-encoding that is not gzip',
      false,
      'completions',
      json({ model, prompt: 'hello' }),
      { 'content-encoding': 'gzip' },
    ),
    ...[2 ** 31 - 1, 1e15, 2 ** 53 + 2, -1, 0.5, '"8"'].map((n) =>
      attack(
        `max_tokens ${n}`,
        false,
        'completions',
        `{"model":${m},"prompt":"hello","max_tokens":${n}}`,
      ),
    ),
    attack(
      'n=1000',
      false,
      'completions',
      `{"model":${m},"prompt":"hello","n":1000,"max_tokens":1}`,
    ),
    attack(
      'token ids out of the vocabulary',
      false,
      'completions',
      `{"model":${m},"prompt":[-1,1e9,3.5],"max_tokens":1}`,
    ),
    attack(
      'an unknown role and a non-text part',
      false,
      'chat/completions',
      `{"model":${m},"messages":[{"role":"root","content":"x"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}]}`,
    ),
  ];
}

/** A request body sent one byte every 500 ms (slowloris) while `going()`. */
async function trickle(url: string, key: string, going: () => boolean) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => {});
  socket.write(
    `POST /v1/completions HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{`,
  );
  while (going() && !socket.destroyed) {
    socket.write('"');
    await sleep(500);
  }
  socket.destroy();
}

/**
 * Every attack once, each from a fresh hostile tenant (so one attack's debt does not hide the next): each must get
 * a clear answer (no 5xx, no cut connection) in reasonable time.
 */
async function once(ctx: ScenarioContext, list: Attack[]) {
  const took: [string, number, number | null][] = [];
  for (const a of list) {
    const { key } = await ctx.tenant(HOSTILE);
    const e = await ctx.send({ ...a.request(key), timeoutMs: 20_000 });
    if (e.dropped) ctx.fail('unanswered', 1, `${a.what}: no answer in 20 s`);
    took.push([a.what, e.endedAt - e.sentAt, e.status]);
  }
  // Where the server's time goes, for whoever looks into the victim's slowdown.
  const slowest = took.sort((x, y) => y[1] - x[1]).slice(0, 4);
  ctx.log(`slowest answers: ${slowest.map(([w, ms, st]) => `${w} ${ms} ms (${st})`).join('; ')}`);
}

/**
 * A 12 MB JSON body sent with Node's own fetch (undici), as a client library would: the server must answer the
 * documented 413 every time — answering while the client is still sending resets the connection ("fetch failed").
 */
async function bigBodyWithFetch(ctx: ScenarioContext, tries: number) {
  const { key } = await ctx.tenant(HOSTILE);
  const body = JSON.stringify({ model: ctx.target.model, prompt: 'x'.repeat(12 * MIB) });
  for (let i = 0; i < tries; i++) {
    const what = `a 12 MB body sent with fetch (try ${i + 1})`;
    try {
      const res = await fetch(`${ctx.target.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(20_000),
      });
      const code = ((await res.json()) as { error?: { code?: string } }).error?.code;
      if (res.status >= 500) ctx.fail('serverErrors', 1, `${what}: ${res.status}`);
      else if (res.status !== 413 || code !== 'request_too_large')
        throw new Error(`${what} answered ${res.status} ${code ?? ''}, not 413 request_too_large`);
    } catch (e: unknown) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      if (/answered/.test((e as Error).message)) throw e;
      ctx.fail(
        'transportErrors',
        1,
        `${what}: ${(e as Error).message}${cause ? ` (${cause})` : ''}`,
      );
    }
  }
}

/**
 * The victim's small requests while clients send `requests` back to back (round robin over `keys`) and bodies
 * trickle in on `trickles`' keys. Lasts at least the phase and until the victim has made 10 requests (at most 30 s
 * more); returns the victim's p50 and slowest latency, and how many requests the others sent.
 */
async function beside(
  ctx: ScenarioContext,
  victimKey: string,
  requests: Attack[],
  keys: string[],
  trickles: string[],
): Promise<{ p50: number; max: number; sent: number }> {
  const phaseMs = ctx.long ? 30_000 : 5000;
  const clients = ctx.long ? 4 : 2;
  const started = Date.now();
  let probed = 0;
  let sent = 0;
  const going = () =>
    Date.now() - started < phaseMs + 30_000 && (Date.now() - started < phaseMs || probed < 10);
  const others = Promise.all([
    ...trickles.map((key) => trickle(ctx.target.url, key, going)),
    ...Array.from({ length: clients }, async (_, a) => {
      for (let i = a; going(); i += clients) {
        const one = requests[i % requests.length];
        const key = keys[Math.floor(i / requests.length) % keys.length];
        // A client that gives up after 10 s: the server must not keep the work going (see disconnects).
        await ctx.send({ ...one.request(key), timeoutMs: 10_000 });
        sent++;
        await sleep(20);
      }
    }),
  ]);
  const loaded = await probeWhile(ctx, victimKey, (n) => {
    probed = n;
    return going();
  });
  await others;
  return { p50: median(loaded), max: Math.max(...loaded), sent };
}

export const adversarial: Scenario = {
  name: 'adversarial',
  summary: 'oversized and malformed requests from hostile tenants beside a well-behaved one',
  async run(ctx) {
    const victim = await ctx.tenant();
    const hostile = await ctx.tenant(HOSTILE);
    const broke: TenantKey = await ctx.tenant({ budget_tokens: 60, budget_period: 'day' });
    const throttled = await ctx.tenant({ rpm: 1 });
    // Spend the budget and the rate first.
    await ctx.send(completion(ctx, broke.key, { max_tokens: 50 }));
    await ctx.send(completion(ctx, throttled.key, { max_tokens: 1 }));
    const list = attacksFor(ctx);
    await once(ctx, list);
    await bigBodyWithFetch(ctx, ctx.long ? 10 : 3);

    // The heavy ones again and again — from the hostile tenant, and from tenants that may not run anything now
    // (budget spent, rate spent, a key that does not exist) — while the victim makes small requests.
    const heavy = list.filter((a) => a.heavy);
    const keys = [hostile.key, broke.key, throttled.key, `sk-unmask-${'0'.repeat(64)}`];
    const probes = ctx.long ? 40 : 12;
    const before = await idleP50(ctx, victim.key, probes);
    const attack = await beside(ctx, victim.key, heavy, keys, [hostile.key, victim.key]);
    // The same phase with well-behaved tenants instead (the victim's own small request, back to back): what any
    // traffic costs the victim on this machine, for comparison with the attack's figure.
    const polite = await ctx.tenant();
    const benign: Attack = {
      what: 'a small chat from a well-behaved tenant',
      heavy: true,
      request: (key) => chat(ctx, key, 'sort: dbca'),
    };
    const traffic = await beside(ctx, victim.key, [benign], [polite.key], []);
    // Idle is measured before and after, and the quieter of the two kept: the CPU is shared.
    await sleep(1000);
    const idle = Math.min(before, await idleP50(ctx, victim.key, probes));
    ctx.measure('p50IdleMs', idle);
    ctx.measure('p50AttackMs', attack.p50);
    ctx.measure('maxAttackMs', attack.max);
    ctx.measure(
      'attackSlowdown',
      judgeLatency(ctx, idle, attack.p50, `${attack.sent} heavy adversarial requests`),
    );
    ctx.measure('p50BenignMs', traffic.p50);
    ctx.measure('benignSlowdown', traffic.p50 / idle);
    ctx.log(
      `${attack.sent} heavy attacks; victim p50 ${idle.toFixed(0)} → ${attack.p50.toFixed(0)} ms ` +
        `(beside ${traffic.sent} well-behaved requests: ${traffic.p50.toFixed(0)} ms)`,
    );
  },
};
