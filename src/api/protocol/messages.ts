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

/**
 * The request's messages for the chat template (`developer` is the newer name of `system`). Tool-call arguments
 * go to the template as objects when they are a JSON object (Hugging Face templates expect a mapping and render it
 * with `tojson`), else as the text sent.
 */
export function chatMessages(messages: ChatCompletionRequest['messages']): ChatMessage[] {
  return messages.map((m, i) => {
    const out: ChatMessage = {
      role: m.role === 'developer' ? 'system' : m.role,
      content: messageText(m.content, i),
    };
    if (m.role === 'assistant' && m.tool_calls && m.tool_calls.length > 0)
      out.tool_calls = m.tool_calls.map((call) => ({
        id: call.id,
        type: 'function',
        function: { name: call.function.name, arguments: argumentsValue(call.function.arguments) },
      }));
    if (m.role === 'tool' && m.tool_call_id) out.tool_call_id = m.tool_call_id;
    return out;
  });
}

function argumentsValue(text: string): string | Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    /* not JSON: the text as sent */
  }
  return text;
}
