/**
 * REQUEST_CAPS through the real app: a hostile request of each kind gets a 400 naming the field (OpenAI error
 * shape) before the schema validates it, and a request at each cap passes the caps (it then fails on the unknown
 * model, a 404, which shows it went on to the ordinary checks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApiApp } from '../app.ts';
import { staticRegistry } from '../engine.ts';
import { StaticTenantStore, openTenant, unlimited } from '../single-tenant.ts';
import { MAX_CHOICES } from '../serving/prepare.ts';
import { REQUEST_CAPS } from './request-caps.ts';

const KEY = 'sk-unmask-caps-test';
const app = createApiApp({
  engines: staticRegistry([]),
  tenants: new StaticTenantStore({ [KEY]: openTenant('t1') }),
  limiter: unlimited,
});

async function post(path: string, body: unknown) {
  const res = await app.fetch(
    new Request(`http://unmask.test${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  );
  return { status: res.status, body: (await res.json()) as { error: Record<string, unknown> } };
}

const turns = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'a' }));
const parts = (n: number) => Array.from({ length: n }, () => ({ type: 'text', text: '' }));
const tools = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ type: 'function', function: { name: `f${i}` } }));
const calls = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `c${i}`,
    type: 'function',
    function: { name: 'f', arguments: '{}' },
  }));
const model = 'no-such-model';
const chat = (fields: Record<string, unknown>) => ({
  model,
  messages: [{ role: 'user', content: 'x' }],
  ...fields,
});
const completion = (fields: Record<string, unknown>) => ({ model, prompt: 'x', ...fields });

const cases: {
  what: string;
  path: string;
  over: unknown;
  at: unknown;
  param: string;
}[] = [
  {
    what: 'chat messages',
    path: '/v1/chat/completions',
    over: chat({ messages: turns(REQUEST_CAPS.messages + 1) }),
    at: chat({ messages: turns(REQUEST_CAPS.messages) }),
    param: 'messages',
  },
  {
    what: 'content parts over all messages',
    path: '/v1/chat/completions',
    over: chat({
      messages: [
        { role: 'user', content: parts(REQUEST_CAPS.parts / 2) },
        { role: 'user', content: parts(REQUEST_CAPS.parts / 2 + 1) },
      ],
    }),
    at: chat({ messages: [{ role: 'user', content: parts(REQUEST_CAPS.parts) }] }),
    param: 'messages',
  },
  {
    what: 'assistant tool calls',
    path: '/v1/chat/completions',
    over: chat({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, tool_calls: calls(REQUEST_CAPS.parts + 1) },
      ],
    }),
    at: chat({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, tool_calls: calls(REQUEST_CAPS.parts - 1) },
      ],
    }),
    param: 'messages',
  },
  {
    what: 'tools',
    path: '/v1/chat/completions',
    over: chat({ tools: tools(129) }),
    at: chat({ tools: tools(128) }),
    param: 'tools',
  },
  {
    what: 'stop sequences',
    path: '/v1/completions',
    over: completion({ stop: ['a', 'b', 'c', 'd', 'e'] }),
    at: completion({ stop: ['a', 'b', 'c', 'd'] }),
    param: 'stop',
  },
  {
    what: 'token ids',
    path: '/v1/completions',
    over: completion({ prompt: new Array(REQUEST_CAPS.promptIds + 1).fill(7) }),
    at: completion({ prompt: new Array(REQUEST_CAPS.promptIds).fill(7) }),
    param: 'prompt',
  },
  {
    what: 'prompt texts',
    path: '/v1/completions',
    over: completion({ prompt: new Array(40_000).fill('hi') }),
    at: completion({ prompt: new Array(REQUEST_CAPS.prompts).fill('hi') }),
    param: 'prompt',
  },
  {
    what: 'prompt id lists',
    path: '/v1/completions',
    over: completion({ prompt: new Array(60_000).fill([1, 2]) }),
    at: completion({ prompt: new Array(REQUEST_CAPS.prompts).fill([1, 2]) }),
    param: 'prompt',
  },
  {
    what: 'responses input items',
    path: '/v1/responses',
    over: { model, input: turns(REQUEST_CAPS.messages + 1) },
    at: { model, input: turns(REQUEST_CAPS.messages) },
    param: 'input',
  },
];

for (const c of cases) {
  test(`too many ${c.what}: a 400 naming ${c.param}; at the cap the request goes on`, async () => {
    const over = await post(c.path, c.over);
    assert.equal(over.status, 400, JSON.stringify(over.body));
    assert.equal(over.body.error.type, 'invalid_request_error');
    assert.equal(over.body.error.param, c.param);
    assert.match(String(over.body.error.message), /at most \d+ per request/);
    const at = await post(c.path, c.at);
    assert.equal(at.status, 404, JSON.stringify(at.body));
    assert.equal(at.body.error.code, 'model_not_found');
  });
}

test('the prompt-list cap is the choice cap (prompts × n)', () => {
  assert.equal(REQUEST_CAPS.prompts, MAX_CHOICES);
});

test('the schema still validates what passes the caps (the body reaches it once parsed)', async () => {
  const bad = await post('/v1/chat/completions', chat({ temperature: -1 }));
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.param, 'temperature');
  const notJson = await app.fetch(
    new Request('http://unmask.test/v1/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: '{"model": "x", "prompt": [1, 2,',
    }),
  );
  assert.equal(notJson.status, 400);
});
