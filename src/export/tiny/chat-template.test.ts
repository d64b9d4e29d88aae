import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Template } from '@huggingface/jinja';
import { CHAT_TEMPLATE } from './tokenizer-files.ts';

const render = (messages: unknown[], tools?: unknown[], addGenerationPrompt = true) =>
  new Template(CHAT_TEMPLATE).render({
    messages,
    ...(tools ? { tools } : {}),
    add_generation_prompt: addGenerationPrompt,
  });

const weather = {
  type: 'function',
  function: {
    name: 'weather',
    description: 'Weather in a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const clock = { type: 'function', function: { name: 'now', parameters: { type: 'object' } } };

describe('chat template: tools (Ling-2.0 format)', () => {
  test('the tools block: one tojson line per tool inside <tools>, in the first SYSTEM turn, after the system message', () => {
    assert.equal(
      render(
        [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Rain in Oslo?' },
        ],
        [weather, clock],
      ),
      '<role>SYSTEM</role>Be brief.\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
        'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
        '{"type": "function", "function": {"name": "weather", "description": "Weather in a city.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}\n' +
        '{"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}\n' +
        '</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
        '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>\n' +
        'detailed thinking off<|role_end|><role>HUMAN</role>Rain in Oslo?<|role_end|><role>ASSISTANT</role>',
    );
  });

  test('no tools, or an empty list: no tools block', () => {
    const plain =
      '<role>SYSTEM</role>detailed thinking off<|role_end|><role>HUMAN</role>hi<|role_end|><role>ASSISTANT</role>';
    assert.equal(render([{ role: 'user', content: 'hi' }]), plain);
    assert.equal(render([{ role: 'user', content: 'hi' }], []), plain);
  });

  test('assistant tool calls (string or object arguments), and consecutive tool results as one OBSERVATION turn', () => {
    const out = render(
      [
        { role: 'user', content: 'Oslo and Bergen?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'a',
              type: 'function',
              function: { name: 'weather', arguments: '{"city": "Oslo"}' },
            },
            {
              id: 'b',
              type: 'function',
              function: { name: 'weather', arguments: { city: 'Bergen' } },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'a', content: 'rain' },
        { role: 'tool', tool_call_id: 'b', content: 'sun' },
        {
          role: 'assistant',
          content: 'Oslo: rain.',
          tool_calls: [{ function: { name: 'now', arguments: '{}' } }],
        },
        { role: 'tool', content: '12:00' },
      ],
      [weather],
      false,
    );
    const after = out.slice(out.indexOf('<role>HUMAN</role>'));
    assert.equal(
      after,
      '<role>HUMAN</role>Oslo and Bergen?<|role_end|>' +
        '<role>ASSISTANT</role><tool_call>{"name": "weather", "arguments": {"city": "Oslo"}}</tool_call>\n' +
        '<tool_call>{"name": "weather", "arguments": {"city": "Bergen"}}</tool_call><|role_end|>' +
        '<role>OBSERVATION</role>\n<tool_response>\nrain\n</tool_response>\n<tool_response>\nsun\n</tool_response><|role_end|>' +
        '<role>ASSISTANT</role>Oslo: rain.\n<tool_call>{"name": "now", "arguments": {}}</tool_call><|role_end|>' +
        '<role>OBSERVATION</role>\n<tool_response>\n12:00\n</tool_response><|role_end|>',
    );
  });
});
