/**
 * @module
 * Synthetic, automatically checkable tasks for the demo model, and the deterministic held-out split.
 *
 * A prompt is the user message `<prefix><input>` (e.g. `sort: dbca`); the answer is a short string (`abcd`).
 * The tool task (tool-task.ts) adds a tools block and a second turn.
 * A prompt is held out when the FNV-1a hash of its text falls in the held-out bucket: training never samples
 * it, evaluation uses only such prompts. The split depends on the text alone, not on seeds or options.
 */
import { Rng, streamSeed } from '../src/export/tiny/rng.ts';
import type { Task, TaskExample } from './task.ts';
import { toolTask } from './tool-task.ts';

export type { ChatStage, Task, TaskExample } from './task.ts';
export { stagesOf } from './task.ts';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** Distinct lowercase letters, 3 to 8 of them, in random order → the same letters sorted. */
export const sortTask: Task = {
  name: 'sort',
  prefix: 'sort: ',
  description: 'sort 3-8 distinct letters ("sort: dbca" → "abcd")',
  maxAnswerChars: 8,
  maxInputChars: 8,
  sample(rng) {
    const n = 3 + Math.floor(rng.uniform() * 6);
    const pool = LETTERS.split('');
    const picked: string[] = [];
    for (let i = 0; i < n; i++)
      picked.push(pool.splice(Math.floor(rng.uniform() * pool.length), 1)[0]);
    return {
      task: 'sort',
      prompt: `sort: ${picked.join('')}`,
      answer: [...picked].sort().join(''),
    };
  },
};

/** Fixed-width addition: two zero-padded 3-digit numbers → a zero-padded 4-digit sum. */
export const addTask: Task = {
  name: 'add',
  prefix: 'add: ',
  description: 'fixed-width addition ("add: 012+345" → "0357")',
  maxAnswerChars: 4,
  maxInputChars: 7,
  sample(rng) {
    const a = Math.floor(rng.uniform() * 1000);
    const b = Math.floor(rng.uniform() * 1000);
    const pad = (x: number, w: number) => String(x).padStart(w, '0');
    return { task: 'add', prompt: `add: ${pad(a, 3)}+${pad(b, 3)}`, answer: pad(a + b, 4) };
  },
};

export const TASKS: Readonly<Record<string, Task>> = Object.freeze({
  sort: sortTask,
  add: addTask,
  tool: toolTask,
});
export const TASK_NAMES = Object.keys(TASKS);
/** Each task's prefix and fixed words: added tokens of the vocabulary, in this order. */
export const TASK_WORDS = Object.values(TASKS).flatMap((t) => [t.prefix, ...(t.words ?? [])]);

/** One prompt in HELD_OUT_BUCKETS of HASH_BUCKETS is held out. */
const HASH_BUCKETS = 100;
const HELD_OUT_BUCKETS = 5;

export function isHeldOut(prompt: string): boolean {
  return streamSeed(0, prompt) % HASH_BUCKETS < HELD_OUT_BUCKETS;
}

/** A training example: resampled until it is not held out. */
export function sampleTraining(task: Task, rng: Rng): TaskExample {
  for (;;) {
    const ex = task.sample(rng);
    if (!isHeldOut(ex.prompt)) return ex;
  }
}

/** The first `count` distinct held-out prompts of a fixed stream: the same list for every run and seed. */
export function heldOutExamples(task: Task, count: number): TaskExample[] {
  const rng = new Rng(streamSeed(0x5eed, `held-out/${task.name}`));
  const seen = new Set<string>();
  const out: TaskExample[] = [];
  for (let tries = 0; out.length < count; tries++) {
    if (tries > count * HASH_BUCKETS * 50)
      throw new Error(`task ${task.name}: fewer than ${count} held-out prompts found`);
    const ex = task.sample(rng);
    if (isHeldOut(ex.prompt) && !seen.has(ex.prompt)) {
      seen.add(ex.prompt);
      out.push(ex);
    }
  }
  return out;
}

/** Resolves a --task value: one name or "all". Throws with one line listing the known names. */
export function resolveTasks(spec: string): Task[] {
  if (spec === 'all') return Object.values(TASKS);
  const names = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new Error(`--task is empty; known: ${TASK_NAMES.join(', ')}, all`);
  return names.map((n) => {
    if (!Object.hasOwn(TASKS, n))
      throw new Error(`unknown task ${JSON.stringify(n)}; known: ${TASK_NAMES.join(', ')}, all`);
    return TASKS[n];
  });
}
