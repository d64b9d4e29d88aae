/**
 * The Worker's hot path in workerd: keys that name their tenant are checked and admitted by the tenant's Durable
 * Object in one call. Its guarantees, end to end: revocation and tenant changes effective on the next request,
 * a bad key is a 401 even when the request fails earlier, limits exact under concurrency, every request's usage
 * in D1 when /v1/usage is read, and legacy keys (no tenant in them, looked up in D1) still work. A body declared
 * over 64 KiB is the one exception: its key and whether its tenant can run anything are asked first, so a bad
 * key or a spent tenant is answered before the body is read.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { TINY_EDGE_MODEL as MODEL, useTinyEdgeWorker } from '../fixtures/tiny-edge-worker.ts';
import { workerAdmin } from '../fixtures/worker-admin.ts';
import { parseServerTiming } from '../../src/api/serving/server-timing.ts';

describe('Worker hot path: one Durable Object call for key and limits', () => {
  const worker = useTinyEdgeWorker(29);
  const { admin, tenantWithKey } = workerAdmin(worker);
  const complete = async (key: string, body: Record<string, unknown> = {}) => {
    const res = await worker().fetch('/v1/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: [4, 5, 6], max_tokens: 2, ...body }),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
      timing: parseServerTiming(res.headers.get('server-timing')),
    };
  };
  const errorCode = (body: Record<string, unknown>) =>
    (body.error as { code?: string } | undefined)?.code;
  const usage = async (key: string) => {
    const res = await worker().fetch('/v1/usage', { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    return (await res.json()) as { requests: number; completionTokens: number };
  };

  test('new keys name their tenant; revocation is effective on the next generation request', async () => {
    const t = await tenantWithKey({ name: 'hot' });
    assert.match(t.key, new RegExp(`^sk-unmask-${t.tenantId}_[0-9A-Za-z]{43}$`));
    // The first request teaches the isolate the tenant's record; the later ones take the one-call path.
    for (let i = 0; i < 3; i++) {
      const served = await complete(t.key);
      assert.equal(served.status, 200);
      // Where the time went (server-timing): the admission call, the generation, the whole handler.
      assert.deepEqual(Object.keys(served.timing), ['admission', 'model', 'total']);
      assert.ok(served.timing.total >= served.timing.admission + served.timing.model - 0.02);
    }
    assert.equal((await admin(`/admin/keys/${t.keyId}`, undefined, 'DELETE')).status, 200);
    const refused = await complete(t.key);
    assert.equal(refused.status, 401);
    assert.equal(errorCode(refused.body), 'revoked_api_key');
    // A forged secret for a known tenant: 401, never served.
    const forged = `sk-unmask-${t.tenantId}_${'A'.repeat(43)}`;
    assert.equal(errorCode((await complete(forged)).body), 'invalid_api_key');
    // … even when the request would fail validation first (the key is still checked before answering).
    assert.equal((await complete(forged, { max_tokens: -1 })).status, 401);
    assert.equal((await complete(forged, { model: 'no-such-model' })).status, 401);
    assert.equal((await complete(t.key, { max_tokens: -1 })).status, 401);
  });

  test('a tenant change reaches the next request (the isolate copy is confirmed by the object)', async () => {
    const t = await tenantWithKey({ name: 'capped' });
    assert.equal((await complete(t.key, { max_tokens: 8 })).status, 200);
    const patched = await admin(`/admin/tenants/${t.tenantId}`, { max_tokens: 4 }, 'PATCH');
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const capped = await complete(t.key, { max_tokens: 8 });
    assert.equal(capped.status, 400, JSON.stringify(capped.body));
    assert.equal((await complete(t.key, { max_tokens: 4 })).status, 200);
    // Raised again: the isolate's copy (cap 4) would refuse before the object is asked; the key and the record
    // are checked then, and the request is served under the current record.
    await admin(`/admin/tenants/${t.tenantId}`, { max_tokens: null }, 'PATCH');
    assert.equal((await complete(t.key, { max_tokens: 8 })).status, 200);
    await admin(`/admin/tenants/${t.tenantId}`, { models: ['another-model'] }, 'PATCH');
    assert.equal((await complete(t.key)).status, 404);
  });

  test('limits are exact under concurrency and every request lands in usage', async () => {
    const t = await tenantWithKey({ name: 'burst', rpm: 5 });
    assert.equal((await complete(t.key)).status, 200);
    const statuses = await Promise.all(
      Array.from({ length: 12 }, () => complete(t.key).then((r) => r.status)),
    );
    assert.equal(statuses.filter((s) => s === 200).length, 4, String(statuses));
    assert.equal(statuses.filter((s) => s === 429).length, 8, String(statuses));
    // Usage is written by the object after each response; a usage query flushes it first.
    assert.equal((await usage(t.key)).requests, 5);
    const adminView = await admin(`/admin/tenants/${t.tenantId}/usage`);
    assert.equal(adminView.body.requests, 5);
  });

  /** Sends only the headers of a request declaring a large body, never the body; the answer, or null by `ms`. */
  const headersOnly = (key: string, bytes: number, ms = 8_000) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string } | null>(
      (resolve, reject) => {
        const req = request(new URL('/v1/completions', worker().url), {
          method: 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            'content-length': String(bytes),
          },
        });
        const timer = setTimeout(() => {
          req.destroy();
          resolve(null);
        }, ms);
        req.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        req.on('response', (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            clearTimeout(timer);
            req.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          });
        });
        req.flushHeaders();
      },
    );
  const LARGE = 200_000;

  test('a large body from a spent tenant or a bad key is answered before it is read', async () => {
    const t = await tenantWithKey({ name: 'spent', budget_tokens: 1_000 });
    const first = await complete(t.key);
    assert.equal(first.status, 200);
    const spent = (first.body.usage as { total_tokens: number }).total_tokens;
    const patched = await admin(`/admin/tenants/${t.tenantId}`, { budget_tokens: spent }, 'PATCH');
    assert.equal(patched.status, 200, JSON.stringify(patched.body));

    const refused = await headersOnly(t.key, LARGE);
    assert.ok(refused, 'no answer without the body: it waited to read it');
    assert.equal(refused.status, 429, refused.body);
    const parsed = JSON.parse(refused.body) as Record<string, unknown>;
    assert.equal(errorCode(parsed), 'insufficient_quota');
    // The answer admission gives a small request: type, code and rate headers (the message cannot name a size).
    const small = await worker().fetch('/v1/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: [4, 5, 6], max_tokens: 2 }),
    });
    assert.equal(small.status, 429);
    const { error } = (await small.json()) as { error: Record<string, unknown> };
    const { type, code } = parsed.error as Record<string, unknown>;
    assert.deepEqual({ type, code }, { type: error.type, code: error.code });
    const rateHeaders = (names: Iterable<string>) =>
      [...names].filter((n) => n.startsWith('x-ratelimit-') || n === 'retry-after').sort();
    assert.deepEqual(rateHeaders(Object.keys(refused.headers)), rateHeaders(small.headers.keys()));
    assert.ok(rateHeaders(small.headers.keys()).includes('retry-after'));
    // A client that does send its whole body receives the refusal, never a connection reset.
    const whole =
      JSON.stringify({ model: MODEL, prompt: 'x'.repeat(900_000), max_tokens: 2 }) + ' ';
    for (let i = 0; i < 5; i++) {
      const answer = await worker().fetch('/v1/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
        body: whole,
      });
      assert.equal(answer.status, 429);
      await answer.arrayBuffer();
    }

    const forged = `sk-unmask-${t.tenantId}_${'A'.repeat(43)}`;
    const unknown = await headersOnly(forged, LARGE);
    assert.ok(unknown, 'no answer without the body: it waited to read it');
    assert.equal(unknown.status, 401, unknown.body);
    assert.equal(errorCode(JSON.parse(unknown.body) as Record<string, unknown>), 'invalid_api_key');
    assert.equal(unknown.headers['www-authenticate'], 'Bearer');
  });

  test('a large body from a tenant that can run is read and served as before', async () => {
    const t = await tenantWithKey({ name: 'large', rpm: 2 });
    assert.equal((await complete(t.key)).status, 200);
    const padded =
      JSON.stringify({ model: MODEL, prompt: [4, 5, 6], max_tokens: 2 }) + ' '.repeat(LARGE);
    const served = await worker().fetch('/v1/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
      body: padded,
    });
    assert.equal(served.status, 200, await served.clone().text());
    await served.arrayBuffer();
    // Nothing was reserved by the screen: exactly two requests this minute, the third is refused.
    const third = await headersOnly(t.key, LARGE);
    assert.equal(third?.status, 429);
    assert.equal(
      errorCode(JSON.parse(third.body) as Record<string, unknown>),
      'rate_limit_exceeded',
    );
    assert.equal((await usage(t.key)).requests, 2);
  });

  test('a legacy key (no tenant in it) still works, through the D1 lookup', async () => {
    const t = await tenantWithKey({ name: 'legacy' });
    const legacy = `sk-unmask-${'L'.repeat(43)}`;
    const db = await worker().mf.getD1Database('DB');
    await db
      .prepare(
        'INSERT INTO api_keys (id, tenant_id, hash, hint, created_at) VALUES (?1, ?2, ?3, ?4, ?5)',
      )
      .bind(
        'key_legacy0000000000',
        t.tenantId,
        createHash('sha256').update(legacy).digest('hex'),
        legacy.slice(-4),
        Date.now(),
      )
      .run();
    assert.equal((await complete(legacy)).status, 200);
    assert.equal((await complete(legacy)).status, 200);
    assert.equal((await usage(legacy)).requests, 2);
    assert.equal(
      (await admin('/admin/keys/key_legacy0000000000', undefined, 'DELETE')).status,
      200,
    );
    assert.equal(errorCode((await complete(legacy)).body), 'revoked_api_key');
  });
});
