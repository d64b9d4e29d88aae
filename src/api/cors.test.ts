/**
 * CORS with the preflights real SDKs cause: each client's request headers are captured (its fetch is swapped for
 * a recorder), the browser's preflight for them is built the way the Fetch standard builds it (every header that
 * is not CORS-safelisted), and the app must allow them all before authentication.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText } from 'ai';
import { createApiApp } from './app.ts';
import { staticRegistry } from './engine.ts';
import { runnerEngine } from './runner-engine.ts';
import { StaticTenantStore, openTenant, unlimited } from './single-tenant.ts';

const BASE = 'http://unmask.test/v1';
const KEY = 'sk-unmask-cors';

/** Headers a browser may send without a preflight (Fetch standard, with their simple values). */
const SAFELISTED = new Set(['accept', 'accept-language', 'content-language']);

/** Runs `send` with a fetch that records the first request's headers and answers a 400. */
async function headersOf(send: (fetch: typeof globalThis.fetch) => Promise<unknown>) {
  let seen: Headers | undefined;
  const recorder = async (input: string | URL | Request, init?: RequestInit) => {
    seen ??= new Headers(input instanceof Request ? input.headers : init?.headers);
    return new Response(
      JSON.stringify({ error: { message: 'x', type: 'invalid_request_error' } }),
      {
        status: 400,
        headers: { 'content-type': 'application/json' },
      },
    );
  };
  await send(recorder as typeof globalThis.fetch).catch(() => {});
  assert.ok(seen, 'the client sent a request');
  return seen;
}

/** The Access-Control-Request-Headers a browser would send for these request headers. */
function preflightHeaders(headers: Headers): string[] {
  const names: string[] = [];
  headers.forEach((value, name) => {
    if (SAFELISTED.has(name)) return;
    if (name === 'content-type' && /^(text\/plain|multipart\/form-data)/.test(value)) return;
    names.push(name);
  });
  return names.sort();
}

const app = createApiApp({
  engines: staticRegistry([
    runnerEngine({
      id: 'm',
      backend: 'node',
      load: async () => {
        throw new Error('preflights never load the model');
      },
    }),
  ]),
  tenants: new StaticTenantStore({ [KEY]: openTenant('t') }),
  limiter: unlimited,
});

const clients: [string, (fetch: typeof globalThis.fetch) => Promise<unknown>][] = [
  [
    'openai (chat.completions.create, stream)',
    (fetch) =>
      new OpenAI({ apiKey: KEY, baseURL: BASE, maxRetries: 0, fetch }).chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      }),
  ],
  [
    'openai (responses.create)',
    (fetch) =>
      new OpenAI({ apiKey: KEY, baseURL: BASE, maxRetries: 0, fetch }).responses.create({
        model: 'm',
        input: 'hi',
      }),
  ],
  [
    '@ai-sdk/openai (default provider: responses)',
    (fetch) =>
      generateText({
        model: createOpenAI({ apiKey: KEY, baseURL: BASE, fetch })('m'),
        prompt: 'hi',
        maxRetries: 0,
      }),
  ],
  [
    '@ai-sdk/openai-compatible',
    (fetch) =>
      generateText({
        model: createOpenAICompatible({ name: 'unmask', apiKey: KEY, baseURL: BASE, fetch })('m'),
        prompt: 'hi',
        maxRetries: 0,
      }),
  ],
];

describe('CORS preflights of real SDKs', () => {
  for (const [name, send] of clients) {
    test(`${name}: every header it sends is allowed, before authentication`, async () => {
      const requested = preflightHeaders(await headersOf(send));
      assert.ok(requested.includes('authorization'), requested.join());
      const res = await app.request('/v1/chat/completions', {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': requested.join(','),
        },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
      const allowed = new Set(
        (res.headers.get('access-control-allow-headers') ?? '')
          .split(',')
          .map((h) => h.trim().toLowerCase()),
      );
      for (const h of requested) assert.ok(allowed.has(h), `${h} allowed (${name})`);
    });
  }

  test('the openai SDK sends x-stainless-* headers (the reason a fixed list failed)', async () => {
    const requested = preflightHeaders(
      await headersOf((fetch) =>
        new OpenAI({ apiKey: KEY, baseURL: BASE, maxRetries: 0, fetch }).models.list(),
      ),
    );
    assert.ok(
      requested.some((h) => h.startsWith('x-stainless-')),
      requested.join(),
    );
  });

  test('responses expose the request id and rate-limit headers to the page', async () => {
    const res = await app.request('/v1/models', {
      headers: { origin: 'https://app.example', authorization: `Bearer ${KEY}` },
    });
    assert.equal(res.status, 200);
    const exposed = res.headers.get('access-control-expose-headers') ?? '';
    for (const h of ['x-request-id', 'retry-after', 'x-ratelimit-remaining-requests'])
      assert.match(exposed, new RegExp(h));
  });
});
