/**
 * The prompts of a generation request, before any tokenization: chat messages (one prompt), or a completion's
 * prompt as text or token ids (one or several). Cheap to build, so limits can be checked before the expensive work.
 */
import type { ChatMessage } from '../../model/text-codec.ts';
import { chatMessages } from './messages.ts';
import type { ChatCompletionRequest, CompletionRequest } from './schemas.ts';
import { toolPlan, type ToolPlan } from './tools.ts';

export type PromptSource =
  { messages: ChatMessage[]; tools: ToolPlan } | { text: string } | { ids: number[] };

export function chatPrompts(body: ChatCompletionRequest): PromptSource[] {
  return [{ messages: chatMessages(body.messages), tools: toolPlan(body) }];
}

export function completionPrompts({ prompt }: CompletionRequest): PromptSource[] {
  if (typeof prompt === 'string') return [{ text: prompt }];
  if (typeof prompt[0] === 'string') return (prompt as string[]).map((text) => ({ text }));
  if (typeof prompt[0] === 'number') return [{ ids: prompt as number[] }];
  return (prompt as number[][]).map((ids) => ({ ids }));
}

/** Tokens known without tokenizing: token-id prompts only (text counts 0). */
export const knownPromptTokens = (sources: PromptSource[]): number =>
  sources.reduce((sum, s) => sum + ('ids' in s ? s.ids.length : 0), 0);
