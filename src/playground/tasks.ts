/**
 * The demo model's tasks as one-click examples, their exact answers (for the accuracy shown side by side), and
 * random prompts for a batch. The tool example follows the tool-calling task the demo model is trained on (training/tool-task.ts imports ADD_TOOL from here).
 */
import type { ChatMessage } from './settings.ts';

export interface Example {
  id: 'sort' | 'add' | 'tool';
  label: string;
  prompt: string;
  /** OpenAI function tools offered with the prompt. */
  tools?: readonly object[];
}

export const ADD_TOOL = Object.freeze({
  type: 'function',
  function: {
    name: 'add',
    description: 'Add two integers and return their sum.',
    parameters: {
      type: 'object',
      properties: { a: { type: 'integer' }, b: { type: 'integer' } },
      required: ['a', 'b'],
    },
  },
});

export const EXAMPLES: readonly Example[] = [
  { id: 'sort', label: 'Sort letters', prompt: 'sort: dbca' },
  { id: 'add', label: 'Add numbers', prompt: 'add: 012+345' },
  { id: 'tool', label: 'Call a tool', prompt: 'what is 12 plus 345?', tools: [ADD_TOOL] },
];

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** The exact answer the demo model is trained to give, or null for prompts outside its tasks. */
export function expectedAnswer(prompt: string): string | null {
  const p = prompt.trim();
  let m = /^sort: ([a-z]+)$/.exec(p);
  if (m) return [...m[1]].sort().join('');
  m = /^add: (\d{3})\+(\d{3})$/.exec(p);
  if (m) return pad(Number(m[1]) + Number(m[2]), 4);
  m = /^what is (\d{1,3}) plus (\d{1,3})\?$/.exec(p);
  if (m)
    return `<tool_call>{"name": "add", "arguments": {"a": ${Number(m[1])}, "b": ${Number(m[2])}}}</tool_call>`;
  return null;
}

/** The example a prompt belongs to (for its tools), by its form. */
export function exampleFor(prompt: string): Example | undefined {
  const p = prompt.trim();
  if (p.startsWith('sort: ')) return EXAMPLES[0];
  if (p.startsWith('add: ')) return EXAMPLES[1];
  if (/^what is \d+ plus \d+\?$/.test(p)) return EXAMPLES[2];
  return undefined;
}

/** A small seeded generator (mulberry32), so a batch can be repeated. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random prompt of the task, in the form the demo model was trained on. */
export function randomPrompt(task: 'sort' | 'add', random: () => number): string {
  if (task === 'add') {
    const a = Math.floor(random() * 1000);
    const b = Math.floor(random() * 1000);
    return `add: ${pad(a, 3)}+${pad(b, 3)}`;
  }
  const letters = [...'abcdefghijklmnopqrstuvwxyz'];
  const n = 3 + Math.floor(random() * 6);
  const picked: string[] = [];
  while (picked.length < n) {
    const [c] = letters.splice(Math.floor(random() * letters.length), 1);
    picked.push(c);
  }
  return `sort: ${picked.join('')}`;
}

export function userMessages(prompt: string): ChatMessage[] {
  return [{ role: 'user', content: prompt }];
}
