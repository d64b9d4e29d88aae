/**
 * @module
 * What a synthetic task is: a seeded generator of examples, each one or more chat stages (messages, tools,
 * and the exact assistant text the model must produce). Single-turn tasks have one stage; the tool task has
 * two (the call, then the answer after the tool's result).
 */
import type { ChatMessage } from '../src/model/text-codec.ts';
import type { Rng } from '../src/export/tiny/rng.ts';

/** One generation: the conversation so far (rendered with the chat template) and the expected reply. */
export interface ChatStage {
  messages: ChatMessage[];
  /** OpenAI function-tool objects for the template's tools block (absent: no tools block). */
  tools?: readonly object[];
  /** The assistant text a correct model writes, exactly. */
  answer: string;
}

export interface TaskExample {
  task: string;
  /** The user message (the held-out split hashes it). */
  prompt: string;
  /** The final answer (the last stage's). */
  answer: string;
  /** Absent: one stage, the user message alone → `answer`. */
  stages?: ChatStage[];
}

export interface Task {
  readonly name: string;
  /** Starts every prompt; one added token in the vocabulary. */
  readonly prefix: string;
  /** Other fixed text of the task's prompts and answers, one added token each. */
  readonly words?: readonly string[];
  /** One line for --help. */
  readonly description: string;
  /** Longest answer in characters. */
  readonly maxAnswerChars: number;
  /** Longest input (after the prefix) in characters. */
  readonly maxInputChars: number;
  sample(rng: Rng): TaskExample;
}

/** The stages of an example: its own, or the single user turn. */
export function stagesOf(ex: TaskExample): ChatStage[] {
  return ex.stages ?? [{ messages: [{ role: 'user', content: ex.prompt }], answer: ex.answer }];
}
