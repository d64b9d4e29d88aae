/**
 * Tools through a pool member of kind `openai`: the API renders the tools with the model's template into the
 * prompt ids it sends upstream, asks for special tokens as text, and parses the upstream's `<tool_call>` text
 * into tool_calls. The upstream here is a scripted OpenAI-compatible /v1/completions stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createApiApp } from '../../src/api/app.ts';
import { staticRegistry } from '../../src/api/engine.ts';
import { StaticTenantStore, openTenant, unlimited } from '../../src/api/single-tenant.ts';
import { createPoolEngine, PoolMembers } from '../../src/dispatch/pool/index.ts';
import { demoCodec, SCRIPTED_TOOL_INFO } from '../fixtures/tool-model.ts';

const CALL = '<tool_call>{"name": "add", "arguments": {"a": 12, "b": 345}}</tool_call>';

test('openai pool member: tools rendered locally, the upstream text parsed into tool_calls', async () => {
  const codec = demoCodec();
  const sent: Record<string, unknown>[] = [];
  const upstream = async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.endsWith('/health')) return Response.json({ status: 'ready' });
    sent.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
    // The text arrives in two pieces, split inside the tag.
    const frames = [CALL.slice(0, 6), CALL.slice(6)].map(
      (text) => `data: ${JSON.stringify({ choices: [{ text, finish_reason: null }] })}\n\n`,
    );
    frames.push(`data: ${JSON.stringify({ choices: [{ text: '', finish_reason: 'stop' }] })}\n\n`);
    frames.push('data: [DONE]\n\n');
    return new Response(frames.join(''), { headers: { 'content-type': 'text/event-stream' } });
  };
  const engine = createPoolEngine({
    kind: 'openai',
    id: 'pooled',
    members: new PoolMembers({ urls: ['http://upstream.test'], fetch: upstream as typeof fetch }),
    secret: 's',
    fetch: upstream as typeof fetch,
    model: async () => ({ codec, info: SCRIPTED_TOOL_INFO }),
  });
  const app = createApiApp({
    engines: staticRegistry([engine]),
    tenants: new StaticTenantStore({ k: openTenant('t') }),
    limiter: unlimited,
  });
  const client = new OpenAI({
    apiKey: 'k',
    baseURL: 'http://api.test/v1',
    maxRetries: 0,
    fetch: async (url: string | URL | Request, init?: RequestInit) =>
      app.fetch(new Request(url as string, init)),
  });
  const r = await client.chat.completions.create({
    model: 'pooled',
    messages: [{ role: 'user', content: 'what is 12 plus 345?' }],
    tools: [{ type: 'function', function: { name: 'add', parameters: { type: 'object' } } }],
  });
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  const call = r.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
  assert.deepEqual(call.function, { name: 'add', arguments: '{"a": 12, "b": 345}' });
  const prompt = codec.decode(sent[0].prompt as number[], { skipSpecialTokens: false });
  assert.match(prompt, /<tools>\n\{"type": "function", "function": \{"name": "add"/);
  assert.equal(sent[0].skip_special_tokens, false);
  await assert.rejects(
    client.chat.completions.create({
      model: 'pooled',
      messages: [{ role: 'user', content: 'x' }],
      logprobs: true,
    }),
    (e: unknown) => e instanceof OpenAI.APIError && e.status === 400 && e.param === 'logprobs',
  );
});
