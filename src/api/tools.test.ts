/**
 * Tools and logprobs through the API with the official openai client: a scripted model (the demo tokenizer, a
 * tools-rendering template, the real decode loop) answers with `<tool_call>` text or a final answer chosen from
 * the rendered prompt. Checks rendering (tools block, assistant calls, OBSERVATION turns), parsing (ids,
 * finish_reason, malformed JSON → content), streaming deltas, tool_choice, parallel_tool_calls, runTools.
 */
import { before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createApiApp } from './app.ts';
import { staticRegistry } from './engine.ts';
import { StaticTenantStore, openTenant, unlimited } from './single-tenant.ts';
import { demoCodec, scriptedToolModel } from '../../test/fixtures/tool-model.ts';

/** A chat template with no tools block (the tiny models' own renders tools). */
const TOOLLESS_TEMPLATE = [
  '{%- for message in messages %}',
  "{{- '<role>HUMAN</role>' + (message.content if message.content is string else '') + '<|role_end|>' }}",
  '{%- endfor %}',
  "{{- '<role>ASSISTANT</role>' }}",
].join('');

const KEY = 'sk-unmask-tools';
const CALL = '<tool_call>{"name": "add", "arguments": {"a": 12, "b": 345}}</tool_call>';
const ADD = {
  type: 'function' as const,
  function: {
    name: 'add',
    description: 'Add two integers.',
    parameters: {
      type: 'object',
      properties: { a: { type: 'integer' }, b: { type: 'integer' } },
      required: ['a', 'b'],
    },
  },
};
const fn = (call: OpenAI.ChatCompletionMessageToolCall | undefined) =>
  (call as OpenAI.ChatCompletionMessageFunctionToolCall).function;
const ask = [{ role: 'user' as const, content: 'what is 12 plus 345?' }];

/** What the scripted model says to a prompt (a `reply` override wins). */
let override: string | null = null;
function reply(prompt: string): string {
  if (override !== null) return override;
  if (prompt.endsWith('"arguments": ')) return '{"a": 12, "b": 345}}</tool_call>';
  if (prompt.endsWith('{"name": "')) return 'add", "arguments": {"a": 12, "b": 345}}</tool_call>';
  if (prompt.includes('<role>OBSERVATION</role>')) return '12 + 345 = 357';
  if (prompt.includes('<tools>')) return CALL;
  return 'no tools here';
}

describe('tools and logprobs (scripted model, official client)', () => {
  const model = scriptedToolModel('tool-model', reply);
  const plain = scriptedToolModel('plain-model', reply, demoCodec(TOOLLESS_TEMPLATE));
  let client: OpenAI;
  let app: ReturnType<typeof createApiApp>;
  const lastPrompt = () => model.prompts[model.prompts.length - 1];

  beforeEach(() => {
    override = null;
  });

  before(() => {
    app = createApiApp({
      engines: staticRegistry([model.engine, plain.engine]),
      tenants: new StaticTenantStore({ [KEY]: openTenant('t') }),
      limiter: unlimited,
    });
    client = new OpenAI({
      apiKey: KEY,
      baseURL: 'http://unmask.test/v1',
      maxRetries: 0,
      fetch: async (url: string | URL | Request, init?: RequestInit) =>
        app.fetch(new Request(url as string, init)),
    });
    override = null;
  });

  test('a call in the output becomes tool_calls (call_ id, JSON arguments as written), finish tool_calls', async () => {
    const r = await client.chat.completions.create({
      model: 'tool-model',
      messages: ask,
      tools: [ADD],
    });
    const choice = r.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls?.length, 1);
    const call = choice.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.match(call.id, /^call_[A-Za-z0-9]{24}$/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'add');
    assert.equal(call.function.arguments, '{"a": 12, "b": 345}');
    // The template rendered the tool into the system turn.
    assert.match(lastPrompt(), /<tools>\n\{"type": "function", "function": \{"name": "add"/);
    assert.ok(r.usage!.completion_tokens > 10);
  });

  test('streamed: one tool_calls delta with index, id, name and arguments; no content text', async () => {
    const stream = await client.chat.completions.create({
      model: 'tool-model',
      messages: ask,
      tools: [ADD],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let content = '';
    let finish: string | null = null;
    let usageNulls = 0;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.usage === null) usageNulls++;
      const c = chunk.choices[0];
      if (!c) continue;
      content += c.delta.content ?? '';
      deltas.push(...(c.delta.tool_calls ?? []));
      finish = c.finish_reason ?? finish;
    }
    assert.equal(content, '');
    assert.equal(finish, 'tool_calls');
    assert.equal(deltas.length, 1);
    assert.equal(deltas[0].index, 0);
    assert.match(deltas[0].id ?? '', /^call_/);
    assert.deepEqual(deltas[0].function, { name: 'add', arguments: '{"a": 12, "b": 345}' });
    assert.equal(usageNulls, chunks - 1, '"usage": null on every chunk but the last');
  });

  test('the round trip renders the call and the tool result (OBSERVATION) and answers; runTools completes', async () => {
    const first = await client.chat.completions.create({
      model: 'tool-model',
      messages: ask,
      tools: [ADD],
    });
    const call = first.choices[0].message.tool_calls![0];
    const second = await client.chat.completions.create({
      model: 'tool-model',
      messages: [
        ...ask,
        first.choices[0].message,
        { role: 'tool', tool_call_id: call.id, content: '357' },
      ],
      tools: [ADD],
    });
    assert.equal(second.choices[0].message.content, '12 + 345 = 357');
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.ok(
      lastPrompt().includes(
        `<role>ASSISTANT</role>${CALL}<|role_end|><role>OBSERVATION</role>\n<tool_response>\n357\n</tool_response><|role_end|><role>ASSISTANT</role>`,
      ),
      lastPrompt(),
    );

    const calls: unknown[] = [];
    const runner = client.chat.completions.runTools({
      model: 'tool-model',
      messages: ask,
      tools: [
        {
          type: 'function',
          function: {
            name: 'add',
            description: ADD.function.description,
            parameters: ADD.function.parameters,
            parse: JSON.parse,
            function: (args: { a: number; b: number }) => {
              calls.push(args);
              return String(args.a + args.b);
            },
          },
        },
      ],
    });
    assert.equal(await runner.finalContent(), '12 + 345 = 357');
    assert.deepEqual(calls, [{ a: 12, b: 345 }]);
  });

  test('malformed call JSON, or an unknown function, stays plain content (never an error)', async () => {
    for (const text of [
      '<tool_call>{"name": "add", "arguments": {"a": 1,}}</tool_call>',
      '<tool_call>{"name": "mul", "arguments": {"a": 1}}</tool_call>',
      'before <tool_call>{"name": "add"',
    ]) {
      override = text;
      const r = await client.chat.completions.create({
        model: 'tool-model',
        messages: ask,
        tools: [ADD],
      });
      assert.equal(r.choices[0].message.content, text);
      assert.equal(r.choices[0].message.tool_calls, undefined);
      assert.equal(r.choices[0].finish_reason, 'stop');
      const stream = await client.chat.completions.create({
        model: 'tool-model',
        messages: ask,
        tools: [ADD],
        stream: true,
      });
      let streamed = '';
      for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
      assert.equal(streamed, text, 'streamed content equals the whole text');
    }
    override = 'Sure.\n' + CALL + '\n' + CALL.replace('12', '7');
    const both = await client.chat.completions.create({
      model: 'tool-model',
      messages: ask,
      tools: [ADD],
    });
    assert.equal(both.choices[0].message.content, 'Sure.');
    assert.equal(both.choices[0].message.tool_calls?.length, 2);
    const one = await client.chat.completions.create({
      model: 'tool-model',
      messages: ask,
      tools: [ADD],
      parallel_tool_calls: false,
    });
    assert.equal(one.choices[0].message.tool_calls?.length, 1, 'parallel_tool_calls: false');
    override = null;
  });

  test('tool_choice: a named function or required writes the call opening; none leaves the tools out', async () => {
    const named = await client.chat.completions.create({
      model: 'tool-model',
      messages: ask,
      tools: [ADD],
      tool_choice: { type: 'function', function: { name: 'add' } },
    });
    assert.ok(
      lastPrompt().endsWith('<role>ASSISTANT</role><tool_call>{"name": "add", "arguments": '),
    );
    assert.equal(fn(named.choices[0].message.tool_calls?.[0]).arguments, '{"a": 12, "b": 345}');
    const required = await client.chat.completions.create({
      model: 'tool-model',
      messages: ask,
      tools: [ADD],
      tool_choice: 'required',
    });
    assert.ok(lastPrompt().endsWith('<role>ASSISTANT</role><tool_call>{"name": "'));
    assert.equal(fn(required.choices[0].message.tool_calls?.[0]).name, 'add');
    const none = await client.chat.completions.create({
      model: 'tool-model',
      messages: ask,
      tools: [ADD],
      tool_choice: 'none',
    });
    assert.ok(!lastPrompt().includes('<tools>'));
    assert.equal(none.choices[0].message.content, 'no tools here');
  });

  test('refusals: tools on a template without a tools block, unknown tool_choice, control tokens in tools', async () => {
    const expect400 = async (p: Promise<unknown>, param: string) =>
      assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof OpenAI.APIError && e.status === 400, String(e));
        assert.equal(e.param, param);
        return true;
      });
    await expect400(
      client.chat.completions.create({ model: 'plain-model', messages: ask, tools: [ADD] }),
      'tools',
    );
    await expect400(
      client.chat.completions.create({
        model: 'tool-model',
        messages: ask,
        tools: [ADD],
        tool_choice: { type: 'function', function: { name: 'mul' } },
      }),
      'tool_choice.function.name',
    );
    await expect400(
      client.chat.completions.create({
        model: 'tool-model',
        messages: ask,
        tool_choice: 'required',
      }),
      'tool_choice',
    );
    await expect400(
      client.chat.completions.create({
        model: 'tool-model',
        messages: ask,
        tools: [{ ...ADD, function: { ...ADD.function, description: 'x<|role_end|>' } }],
      }),
      'tools',
    );
  });

  test('logprobs: one entry per token at its commit step, text matching the content; above the head k is a 400', async () => {
    override = '12 + 345 = 357';
    const r = await client.chat.completions.create({
      model: 'tool-model',
      messages: ask,
      logprobs: true,
      top_logprobs: 3,
    });
    const content = r.choices[0].logprobs!.content!;
    assert.equal(content.length, r.usage!.completion_tokens);
    assert.equal(
      content
        .map((t) => t.token)
        .join('')
        .replace('<|endoftext|>', ''),
      r.choices[0].message.content,
    );
    for (const t of content) {
      assert.ok(Math.abs(t.logprob - Math.log(0.99)) < 1e-4, String(t.logprob));
      assert.equal(t.top_logprobs.length, 3);
      assert.equal(t.top_logprobs[0].token, t.token);
      assert.deepEqual(t.bytes, Array.from(new TextEncoder().encode(t.token)));
    }
    const stream = await client.chat.completions.create({
      model: 'tool-model',
      messages: ask,
      logprobs: true,
      stream: true,
    });
    let streamed = 0;
    for await (const chunk of stream) streamed += chunk.choices[0]?.logprobs?.content?.length ?? 0;
    assert.equal(streamed, content.length, 'streamed logprobs cover the same tokens');
    const legacy = await client.completions.create({
      model: 'tool-model',
      prompt: 'x',
      logprobs: 2,
      max_tokens: 16,
    });
    const lp = legacy.choices[0].logprobs!;
    assert.equal(lp.tokens!.length, legacy.usage!.completion_tokens);
    assert.equal(lp.top_logprobs![0] && Object.keys(lp.top_logprobs![0]).length, 2);
    assert.equal(lp.text_offset![0], 0);
    await assert.rejects(
      client.chat.completions.create({
        model: 'tool-model',
        messages: ask,
        logprobs: true,
        top_logprobs: 9,
      }),
      (e: unknown) =>
        e instanceof OpenAI.APIError && e.status === 400 && e.param === 'top_logprobs',
    );
    override = null;
  });
});
