/**
 * POST /v1/responses through the clients that call it: the official openai client (`responses.create`, streamed
 * and not) and the AI SDK's default OpenAI provider (`createOpenAI(...)(model)`, text, stream and a tool loop),
 * over the scripted tool model (demo tokenizer, tools template, the real decode loop).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { createApiApp } from './app.ts';
import { staticRegistry } from './engine.ts';
import { StaticTenantStore, openTenant, unlimited } from './single-tenant.ts';
import { scriptedToolModel } from '../../test/fixtures/tool-model.ts';

const KEY = 'sk-unmask-responses';
const BASE = 'http://unmask.test/v1';

function reply(prompt: string): string {
  if (prompt.includes('<role>OBSERVATION</role>')) return '12 + 345 = 357';
  if (prompt.includes('<tools>'))
    return '<tool_call>{"name": "add", "arguments": {"a": 12, "b": 345}}</tool_call>';
  if (prompt.includes('be brief')) return 'Brief answer.';
  return 'Hello from a diffusion model.';
}

describe('Responses API (official client, AI SDK default provider)', () => {
  const model = scriptedToolModel('tool-model', reply);
  let app: ReturnType<typeof createApiApp>;
  const fetch = (async (url: string | URL | Request, init?: RequestInit) =>
    app.fetch(new Request(url as string, init))) as typeof globalThis.fetch;
  const client = () => new OpenAI({ apiKey: KEY, baseURL: BASE, maxRetries: 0, fetch });
  const lastPrompt = () => model.prompts[model.prompts.length - 1];

  before(() => {
    app = createApiApp({
      engines: staticRegistry([model.engine]),
      tenants: new StaticTenantStore({ [KEY]: openTenant('t') }),
      limiter: unlimited,
    });
  });

  test('responses.create: text input, instructions as the system turn, output_text, usage', async () => {
    const r = await client().responses.create({
      model: 'tool-model',
      input: 'hi',
      instructions: 'be brief',
      max_output_tokens: 40,
    });
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.match(r.id, /^resp_/);
    assert.equal(r.output_text, 'Brief answer.');
    assert.ok(lastPrompt().startsWith('<role>SYSTEM</role>be brief\n'));
    assert.ok(r.usage!.input_tokens > 0 && r.usage!.output_tokens > 0);
    assert.equal(r.usage!.total_tokens, r.usage!.input_tokens + r.usage!.output_tokens);
  });

  test('streamed: typed events in order, deltas add up to the text, response.completed last', async () => {
    const stream = await client().responses.create({
      model: 'tool-model',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
      stream: true,
    });
    const types: string[] = [];
    let text = '';
    let sequence = -1;
    for await (const event of stream) {
      types.push(event.type);
      assert.equal(event.sequence_number, sequence + 1);
      sequence = event.sequence_number;
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') {
        assert.equal(event.response.output_text ?? text, 'Hello from a diffusion model.');
        assert.ok(event.response.usage!.output_tokens > 0);
      }
    }
    assert.equal(text, 'Hello from a diffusion model.');
    assert.deepEqual(types.slice(0, 4), [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    assert.deepEqual(types.slice(-4), [
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
  });

  test('max_output_tokens reached: status incomplete with the reason', async () => {
    const r = await client().responses.create({
      model: 'tool-model',
      input: 'hi',
      max_output_tokens: 3,
    });
    assert.equal(r.status, 'incomplete');
    assert.equal(r.incomplete_details?.reason, 'max_output_tokens');
  });

  test('function tools: a function_call item; its output item continues the conversation', async () => {
    const tools = [
      {
        type: 'function' as const,
        name: 'add',
        description: 'Add two integers.',
        parameters: {
          type: 'object',
          properties: { a: { type: 'integer' }, b: { type: 'integer' } },
        },
        strict: false,
      },
    ];
    const first = await client().responses.create({
      model: 'tool-model',
      input: 'what is 12 plus 345?',
      tools,
    });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call && call.type === 'function_call');
    assert.equal(call.name, 'add');
    assert.equal(call.arguments, '{"a": 12, "b": 345}');
    const second = await client().responses.create({
      model: 'tool-model',
      input: [
        { role: 'user', content: 'what is 12 plus 345?' },
        call,
        { type: 'function_call_output', call_id: call.call_id, output: '357' },
      ],
      tools,
    });
    assert.equal(second.output_text, '12 + 345 = 357');
  });

  test('refusals name the field: previous_response_id, non-function tools, unknown items', async () => {
    for (const [body, param] of [
      [{ input: 'x', previous_response_id: 'resp_1' }, 'previous_response_id'],
      [{ input: 'x', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
      [{ input: [{ type: 'item_reference', id: 'msg_unknown' }] }, 'input[0]'],
    ] as const)
      await assert.rejects(
        client().responses.create({ model: 'tool-model', ...body } as never),
        (e: unknown) => e instanceof OpenAI.APIError && e.status === 400 && e.param === param,
      );
  });

  test('AI SDK default provider (createOpenAI(...)(model)): generateText, streamText, a tool loop', async () => {
    const openai = createOpenAI({ apiKey: KEY, baseURL: BASE, fetch });
    const text = await generateText({ model: openai('tool-model'), prompt: 'hi', maxRetries: 0 });
    assert.equal(text.text, 'Hello from a diffusion model.');
    assert.ok((text.usage.outputTokens ?? 0) > 0);
    const streamed = streamText({ model: openai('tool-model'), prompt: 'hi', maxRetries: 0 });
    let joined = '';
    for await (const part of streamed.textStream) joined += part;
    assert.equal(joined, 'Hello from a diffusion model.');
    const calls: unknown[] = [];
    const loop = await generateText({
      model: openai('tool-model'),
      prompt: 'what is 12 plus 345?',
      maxRetries: 0,
      stopWhen: stepCountIs(3),
      tools: {
        add: tool({
          description: 'Add two integers.',
          inputSchema: jsonSchema<{ a: number; b: number }>({
            type: 'object',
            properties: { a: { type: 'integer' }, b: { type: 'integer' } },
            required: ['a', 'b'],
          }),
          execute: async ({ a, b }) => {
            calls.push({ a, b });
            return a + b;
          },
        }),
      },
    });
    assert.deepEqual(calls, [{ a: 12, b: 345 }]);
    assert.equal(loop.text, '12 + 345 = 357');
    // The tool renders with only the fields the client sent (no `"strict": null`), as the chat route renders it.
    assert.ok(
      lastPrompt().includes(
        '{"type": "function", "function": {"name": "add", "description": "Add two integers.", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}\n</tools>',
      ),
      lastPrompt(),
    );
  });
});
