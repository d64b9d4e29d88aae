/** Unit tests of the pool client's parts: SSE framing, the circuit breaker (fake clock), member picking and health. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CircuitBreaker,
  IdleTimeoutError,
  PoolMembers,
  SseParser,
  readSse,
  wireOptions,
  toDecodeEvent,
  completionsBody,
} from '../../src/dispatch/pool/index.ts';
import { ApiError } from '../../src/api/errors.ts';

function streamOf(
  chunks: (string | Uint8Array)[],
  { hang = false } = {},
): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(typeof c === 'string' ? enc.encode(c) : c);
      if (!hang) controller.close();
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>, idleTimeoutMs?: number) {
  const out = [];
  for await (const f of readSse(body, { idleTimeoutMs })) out.push(f);
  return out;
}

describe('SSE frames', () => {
  test('splits on blank lines with any line ending, across chunk boundaries', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('data: {"a":1}\n'), []);
    assert.deepEqual(p.push('\ndata: x\r'), [{ data: '{"a":1}' }]);
    assert.deepEqual(p.push('\n\r\n'), [{ data: 'x' }]);
    assert.deepEqual(p.push('data: y\r\r'), [{ data: 'y' }]);
    assert.deepEqual(p.push('event: denoise\ndata: a\ndata:b\n\n'), [
      { event: 'denoise', data: 'a\nb' },
    ]);
  });

  test('comments and unknown fields are skipped; an empty event is not a frame', () => {
    const p = new SseParser();
    assert.deepEqual(p.push(': keep-alive\n\n: another\nid: 7\nretry: 10\n\n'), []);
    assert.deepEqual(p.push('data\n\n'), [{ data: '' }]);
  });

  test('UTF-8 split across chunks; an unterminated last frame is dropped', async () => {
    const bytes = new TextEncoder().encode('data: héllo ✓\n\ndata: cut');
    const frames = await collect(
      streamOf([bytes.slice(0, 9), bytes.slice(9, 17), bytes.slice(17)]),
    );
    assert.deepEqual(frames, [{ data: 'héllo ✓' }]);
  });

  test('idle timeout when the body goes silent; comments keep it alive', async () => {
    await assert.rejects(collect(streamOf(['data: 1\n\n'], { hang: true }), 50), IdleTimeoutError);
    let n = 0;
    const ticking = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 20));
        controller.enqueue(
          new TextEncoder().encode(n++ < 5 ? ': keep-alive\n\n' : 'data: end\n\n'),
        );
        if (n > 5) controller.close();
      },
    });
    // 20 ms ticks against a 500 ms idle timeout: a wide margin, so a loaded machine cannot fail it.
    assert.deepEqual(await collect(ticking, 500), [{ data: 'end' }]);
  });

  test('breaking out of the iteration cancels the body', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('data: 1\n\ndata: 2\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const f of readSse(body)) {
      assert.equal(f.data, '1');
      break;
    }
    assert.equal(cancelled, true);
  });
});

describe('circuit breaker (fake clock)', () => {
  test('opens after N consecutive failures, half-opens after the cool-down, one trial at a time', () => {
    let now = 1000;
    const b = new CircuitBreaker({ failureThreshold: 3, coolDownMs: 500, now: () => now });
    b.acquire().failure();
    b.acquire().failure();
    b.acquire().success(); // a success resets the count
    assert.equal(b.state, 'closed');
    for (let i = 0; i < 3; i++) b.acquire().failure();
    assert.equal(b.state, 'open');
    assert.equal(b.allows(), false);
    assert.equal(b.readyAt(), 1500);
    now = 1499;
    assert.equal(b.allows(), false);
    now = 1500;
    assert.equal(b.state, 'half-open');
    assert.equal(b.allows(), true);
    const trial = b.acquire();
    assert.equal(b.allows(), false, 'one trial in flight');
    trial.failure();
    assert.equal(b.state, 'open', 'a failed trial reopens');
    assert.equal(b.readyAt(), 2000);
    now = 2000;
    const trial2 = b.acquire();
    trial2.success();
    trial2.failure(); // ignored: one outcome per ticket
    assert.equal(b.state, 'closed');
    assert.equal(b.consecutiveFailures, 0);
  });

  test('a released trial frees the slot; a lost trial expires after another cool-down', () => {
    let now = 0;
    const b = new CircuitBreaker({ failureThreshold: 1, coolDownMs: 100, now: () => now });
    b.acquire().failure();
    now = 100;
    b.acquire().release();
    assert.equal(b.allows(), true);
    b.acquire(); // never settled
    assert.equal(b.allows(), false);
    now = 200;
    assert.equal(b.allows(), true);
  });

  test('rejects bad options', () => {
    assert.throws(() => new CircuitBreaker({ failureThreshold: 0 }), RangeError);
  });
});

describe('pool members', () => {
  test('round-robin over members the breaker allows; busy and known-down members are skipped or last', async () => {
    const now = 0;
    const health: Record<string, boolean> = {
      'http://a': true,
      'http://b': false,
      'http://c': true,
    };
    const fetchFn = (async (url: string) =>
      new Response(null, {
        status: health[new URL(url).origin] ? 200 : 503,
      })) as unknown as typeof fetch;
    const m = new PoolMembers({
      urls: ['http://a/', 'http://b', 'http://c'],
      breaker: { failureThreshold: 1, coolDownMs: 100 },
      now: () => now,
      fetch: fetchFn,
    });
    assert.equal(m.members[0].url, 'http://a');
    assert.deepEqual(
      [m.pick()!.url, m.pick()!.url, m.pick()!.url, m.pick()!.url],
      ['http://a', 'http://b', 'http://c', 'http://a'],
    );
    assert.equal(await m.available(), true);
    assert.deepEqual(
      [m.pick()!.url, m.pick()!.url, m.pick()!.url],
      ['http://c', 'http://a', 'http://c'],
      'b failed /health',
    );
    m.members[2].busyUntil = 50;
    m.members[0].breaker.acquire().failure();
    assert.equal(m.pick()!.url, 'http://b', 'only the unhealthy one is left');
    assert.equal(m.pick(new Set([m.members[1]])), null);
    assert.equal(m.readyAt(), 0, 'b is ready now');
    m.members[1].breaker.acquire().failure();
    assert.equal(m.readyAt(), 50);
    assert.equal(await m.available(), true, 'c is busy (a 503) but up');
    m.members[2].breaker.acquire().failure();
    assert.equal(await m.available(), false, 'every breaker open');
  });

  test('available() probes only stale members and trusts a fresh answer', async () => {
    let now = 0;
    let probes = 0;
    const fetchFn = (async () => {
      probes++;
      throw new TypeError('connection refused');
    }) as unknown as typeof fetch;
    const m = new PoolMembers({
      urls: ['http://a'],
      healthTtlMs: 1000,
      now: () => now,
      fetch: fetchFn,
    });
    assert.equal(await m.available(), false);
    assert.equal(await m.available(), false);
    assert.equal(probes, 1);
    now = 1000;
    await m.available();
    assert.equal(probes, 2);
    assert.deepEqual(m.status(), [
      { index: 0, breaker: 'closed', failures: 0, healthy: false, busy: false },
    ]);
  });
});

describe('wire mapping', () => {
  test('DecodeOptions cross the wire unchanged, minus what cannot travel; maxTokens is required', () => {
    const options = {
      maxTokens: 32,
      blockLength: 8,
      steps: 4,
      threshold: 0.9,
      temperature: 0.5,
      topK: 5,
      topP: 0.9,
      seed: 3,
      eosEarlyStop: true,
      algorithm: 'hierarchy',
      algorithmParams: { low_threshold: 0.4 },
    };
    const signal = new AbortController().signal;
    assert.deepEqual(wireOptions({ ...options, signal }), options);
    assert.deepEqual(JSON.parse(JSON.stringify(wireOptions({ maxTokens: 4 }))), { maxTokens: 4 });
    assert.throws(() => wireOptions({ threshold: 0.5 }), RangeError);
  });

  test("error events become ApiErrors with the status of their type; auth errors are the Worker's (502)", () => {
    const err = (type: string) => {
      try {
        toDecodeEvent({ type: 'error', error: { message: 'm', type, code: 'c', param: 'p' } });
      } catch (e: unknown) {
        return e as ApiError;
      }
      throw new Error('no throw');
    };
    assert.equal(err('invalid_request_error').status, 400);
    assert.equal(err('invalid_request_error').param, 'p');
    assert.equal(err('service_unavailable_error').status, 503);
    assert.equal(err('service_unavailable_error').retryAfterSeconds, 5);
    assert.equal(err('authentication_error').status, 502);
    assert.equal(err('weird').type, 'server_error');
  });

  test('openai kind: main knobs only; diffusion knobs are refused', () => {
    assert.deepEqual(
      completionsBody('m', [1, 2], { maxTokens: 8, temperature: 0.7, seed: 1, topP: 0.9 }),
      {
        model: 'm',
        prompt: [1, 2],
        stream: true,
        skip_special_tokens: false,
        max_tokens: 8,
        temperature: 0.7,
        top_p: 0.9,
        seed: 1,
      },
    );
    assert.throws(
      () => completionsBody('m', [1], { maxTokens: 8, steps: 4 }),
      (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === 'steps',
    );
  });
});
