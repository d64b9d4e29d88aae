/**
 * Caps on how many items a generation request may carry, checked on the parsed JSON before the schema validates
 * it: validating and rendering costs tens of µs per item, so a 1 MiB body of 30,000 messages or 170,000 prompt
 * ids would otherwise cost hundreds of ms of CPU before its 400. Each cap is far above what a real client sends
 * (docs/api.md lists them); OpenAI's documented limits are used where it documents one (4 stop sequences, 128
 * tools). Only lengths are read here; the schema checks everything else.
 */
import { badRequest } from '../api-error.ts';

export const REQUEST_CAPS = {
  /** Chat turns: even empty, one is 2.5 tokens in LLaDA2's template; 10,000 are most of a 32k context. */
  messages: 10_000,
  /** Content parts and tool calls over all messages together (each is a piece of some turn). */
  parts: 10_000,
  /** OpenAI: "A max of 128 functions are supported." */
  tools: 128,
  /** OpenAI: "Up to 4 sequences where the API will stop generating further tokens." */
  stop: 4,
  /** A token-id prompt: twice the longest context of the LLaDA2 models (64k positions with YaRN). */
  promptIds: 131_072,
  /** Prompts in one request (texts or id lists): prompts × n may not pass 16 anyway (MAX_CHOICES). */
  prompts: 16,
} as const;

export type RequestKind = 'chat' | 'completion' | 'responses';

const tooMany = (param: string, what: string, count: number, cap: number) =>
  badRequest(`${param}: ${count} ${what}; at most ${cap} per request`, param);

const lengthOf = (v: unknown): number => (Array.isArray(v) ? v.length : 0);

function checkTurns(turns: unknown[], param: string): void {
  if (turns.length > REQUEST_CAPS.messages)
    throw tooMany(param, 'items', turns.length, REQUEST_CAPS.messages);
  let parts = 0;
  for (const turn of turns) {
    if (typeof turn !== 'object' || turn === null) continue;
    const t = turn as Record<string, unknown>;
    parts += lengthOf(t.content) + lengthOf(t.tool_calls) + lengthOf(t.output);
  }
  if (parts > REQUEST_CAPS.parts)
    throw tooMany(param, 'content parts and tool calls in all', parts, REQUEST_CAPS.parts);
}

/** Throws a 400 naming the field when `body` carries more items than REQUEST_CAPS allows; else does nothing. */
export function checkRequestCaps(body: unknown, kind: RequestKind): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const b = body as Record<string, unknown>;
  if (kind === 'chat' && Array.isArray(b.messages)) checkTurns(b.messages, 'messages');
  if (kind === 'responses' && Array.isArray(b.input)) checkTurns(b.input, 'input');
  if (lengthOf(b.tools) > REQUEST_CAPS.tools)
    throw tooMany('tools', 'tools', lengthOf(b.tools), REQUEST_CAPS.tools);
  if (lengthOf(b.stop) > REQUEST_CAPS.stop)
    throw tooMany('stop', 'stop sequences', lengthOf(b.stop), REQUEST_CAPS.stop);
  if (kind === 'completion' && Array.isArray(b.prompt) && b.prompt.length > 0) {
    const ids = typeof b.prompt[0] === 'number';
    const cap = ids ? REQUEST_CAPS.promptIds : REQUEST_CAPS.prompts;
    if (b.prompt.length > cap)
      throw tooMany('prompt', ids ? 'token ids' : 'prompts', b.prompt.length, cap);
  }
}
