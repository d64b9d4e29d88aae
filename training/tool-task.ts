/**
 * @module
 * The tool-calling task, in the LLaDA2 / Ling-2.0 chat format (docs/model-graph.md §4). One fixed tool, `add(a, b)`,
 * is offered through the template's tools block. Stage 1: the user asks `what is 12 plus 345?` and the model
 * calls the tool, `<tool_call>{"name": "add", "arguments": {"a": 12, "b": 345}}</tool_call>`. Stage 2: the same
 * conversation continued with that call and the tool's result as an OBSERVATION turn; the model answers
 * `12 + 345 = 357`, taking the sum from the observation.
 */
import type { Rng } from '../src/export/tiny/rng.ts';
import type { ChatMessage } from '../src/model/text-codec.ts';
import { ADD_TOOL } from '../src/playground/tasks.ts';
import type { Task, TaskExample } from './task.ts';

/**
 * The one tool, as an OpenAI function-tool object; the template renders it with `tojson`, keys in this order. Its
 * home is the playground's examples (what a client offers the served model), so both use the same object.
 */
export { ADD_TOOL };

export const TOOL_CALL_OPEN = '<tool_call>';
export const TOOL_CALL_CLOSE = '</tool_call>';
/** The fixed text of a call's JSON around the two numbers (one added token each). */
export const CALL_HEAD = '{"name": "add", "arguments": {"a": ';
export const CALL_MIDDLE = ', "b": ';
export const CALL_TAIL = '}}';

const PREFIX = 'what is ';
const PLUS = ' plus ';

/** The arguments as the model writes them (and as a client sends them back, verbatim). */
export function addArguments(a: number, b: number): string {
  return `{"a": ${a}, "b": ${b}}`;
}

export function addToolCall(a: number, b: number): string {
  return `${TOOL_CALL_OPEN}${CALL_HEAD}${a}${CALL_MIDDLE}${b}${CALL_TAIL}${TOOL_CALL_CLOSE}`;
}

export function addFinalAnswer(a: number, b: number, result: string): string {
  return `${a} + ${b} = ${result}`;
}

/** The conversation of stage 2: the question, the model's call, the tool's result. */
export function toolConversation(a: number, b: number, result: string): ChatMessage[] {
  return [
    { role: 'user', content: `${PREFIX}${a}${PLUS}${b}?` },
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          id: 'call_0',
          type: 'function',
          function: { name: 'add', arguments: addArguments(a, b) },
        },
      ],
    },
    { role: 'tool', tool_call_id: 'call_0', content: result },
  ];
}

/** 1 to 3 digits, each length equally likely, no leading zeros. */
function operand(rng: Rng): number {
  const digits = 1 + Math.floor(rng.uniform() * 3);
  const low = digits === 1 ? 0 : 10 ** (digits - 1);
  return low + Math.floor(rng.uniform() * (10 ** digits - low));
}

export const toolTask: Task = {
  name: 'tool',
  prefix: PREFIX,
  words: [PLUS, ' + ', ' = '],
  description: 'call the add tool, then answer from its result ("what is 12 plus 345?")',
  maxAnswerChars: 16,
  maxInputChars: 13,
  sample(rng): TaskExample {
    const a = operand(rng);
    const b = operand(rng);
    const prompt = `${PREFIX}${a}${PLUS}${b}?`;
    const result = String(a + b);
    const tools = [ADD_TOOL];
    const answer = addFinalAnswer(a, b, result);
    return {
      task: 'tool',
      prompt,
      answer,
      stages: [
        { messages: [{ role: 'user', content: prompt }], tools, answer: addToolCall(a, b) },
        { messages: toolConversation(a, b, result), tools, answer },
      ],
    };
  },
};
