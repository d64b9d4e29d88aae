/** Chat messages as the chat template sees them: roles normalised, content flattened to text. */
import { z } from '@hono/zod-openapi';
import { badRequest } from '../api-error.ts';
import type { ChatMessage } from '../../model/text-codec.ts';
import type { ChatCompletionRequest } from './schemas.ts';

const TextPart = z.looseObject({ type: z.literal('text'), text: z.string() });

/** Flattens message content (string or text parts) to text; other part types are rejected. */
export function messageText(content: unknown, index: number): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return (content as unknown[])
    .map((part, j) => {
      const parsed = TextPart.safeParse(part);
      if (!parsed.success)
        throw badRequest(
          `only text content parts are supported (messages[${index}].content[${j}])`,
          `messages[${index}].content`,
        );
      return parsed.data.text;
    })
    .join('');
}

/** The request's messages for the chat template (`developer` is the newer name of `system`). */
export function chatMessages(messages: ChatCompletionRequest['messages']): ChatMessage[] {
  return messages.map((m, i) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: messageText(m.content, i),
  }));
}
