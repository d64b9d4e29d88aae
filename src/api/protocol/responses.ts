/**
 * The Responses API's request (POST /v1/responses), translated onto the chat path: `instructions` becomes the
 * first system message, `input` (text, or message / function_call / function_call_output items) the messages,
 * `max_output_tokens` max_tokens, Responses-style function tools the chat tools. Unmask stores no responses;
 * an `item_reference` to an earlier message (what clients send when `store` is on) resolves because a
 * non-streamed message's id carries its text, and a streamed one's text is remembered in this process (a
 * bounded cache: send the item itself, or `store: false`, where that is not enough).
 */
import { z } from '@hono/zod-openapi';
import { badRequest } from '../api-error.ts';
import { decodeFields } from './decode-fields.ts';
import type { ChatCompletionRequest } from './schemas.ts';

const TextPart = z.looseObject({
  type: z.enum(['input_text', 'output_text', 'text']),
  text: z.string(),
});
const Part = z.looseObject({ type: z.string() });

const MessageItem = z.looseObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(Part)]),
});
const FunctionCallItem = z.looseObject({
  type: z.literal('function_call'),
  call_id: z.string(),
  name: z.string(),
  arguments: z.string(),
});
const FunctionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string(),
  output: z.union([z.string(), z.array(Part)]),
});
const ItemReference = z.looseObject({ type: z.literal('item_reference'), id: z.string() });
const OtherItem = z.looseObject({ type: z.string() });

export const ResponseFunctionToolSchema = z
  .looseObject({
    type: z.literal('function'),
    name: z.string(),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  })
  .openapi('ResponseFunctionTool');

export const ResponseRequestSchema = z
  .looseObject({
    model: z.string().min(1).openapi({ example: 'unmask-demo' }),
    input: z.union([
      z.string(),
      z.array(
        z.union([MessageItem, FunctionCallItem, FunctionCallOutputItem, ItemReference, OtherItem]),
      ),
    ]),
    instructions: z.string().nullish(),
    max_output_tokens: z.number().int().min(1).nullish(),
    tools: z.array(z.looseObject({ type: z.string() })).nullish(),
    tool_choice: z
      .union([
        z.enum(['none', 'auto', 'required']),
        z.looseObject({ type: z.literal('function'), name: z.string() }),
      ])
      .nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    stream: z.boolean().nullish(),
    previous_response_id: z.string().nullish(),
    store: z.boolean().nullish(),
    metadata: z.record(z.string(), z.string()).nullish(),
    user: z.string().nullish(),
    text: z.looseObject({ format: z.looseObject({ type: z.string() }).nullish() }).nullish(),
    ...decodeFields,
  })
  .openapi('ResponseRequest');

export type ResponseRequest = z.infer<typeof ResponseRequestSchema>;

const MESSAGE_ID_TEXT = 'msg_t';
/** Texts up to this many UTF-8 bytes ride in their message's id (longer ones get a random id). */
const MAX_ID_TEXT_BYTES = 2048;

const toBase64Url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

/** The id of an output message: its text, base64url-encoded, when short; else random. */
export function messageItemId(text: string): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= MAX_ID_TEXT_BYTES) return MESSAGE_ID_TEXT + toBase64Url(bytes);
  return `msg_${crypto.randomUUID().replace(/-/g, '')}`;
}

/** Streamed message texts by id (their ids are fixed before the text is known), newest last. */
const remembered = new Map<string, string>();
const REMEMBERED_MAX = 1000;

export function rememberMessage(id: string, text: string): void {
  if (new TextEncoder().encode(text).length > 4 * MAX_ID_TEXT_BYTES) return;
  remembered.delete(id);
  remembered.set(id, text);
  if (remembered.size > REMEMBERED_MAX) remembered.delete(remembered.keys().next().value!);
}

function textOfMessageId(id: string): string | null {
  const kept = remembered.get(id);
  if (kept !== undefined) return kept;
  if (!id.startsWith(MESSAGE_ID_TEXT)) return null;
  try {
    const b64 = id.slice(MESSAGE_ID_TEXT.length).replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

function partsText(content: string | { type: string }[], param: string): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, j) => {
      const text = TextPart.safeParse(part);
      if (!text.success)
        throw badRequest(
          `only text content parts are supported (${part.type} at ${param}[${j}])`,
          `${param}[${j}]`,
          'unsupported_parameter',
        );
      return text.data.text;
    })
    .join('');
}

type ChatMessageIn = ChatCompletionRequest['messages'][number];

/** The request as a chat completion request (messages, tools, limits and knobs), for the shared chat path. */
export function toChatRequest(req: ResponseRequest): ChatCompletionRequest {
  if (req.previous_response_id)
    throw badRequest(
      'previous_response_id is not supported: this server stores no responses; send the whole conversation as input',
      'previous_response_id',
      'unsupported_parameter',
    );
  const messages: ChatMessageIn[] = [];
  if (req.instructions) messages.push({ role: 'system', content: req.instructions });
  const items = typeof req.input === 'string' ? [{ role: 'user', content: req.input }] : req.input;
  items.forEach((raw, i) => {
    const item = raw as Record<string, unknown>;
    const param = `input[${i}]`;
    const type = item.type ?? 'message';
    if (type === 'message') {
      const m = MessageItem.parse(item);
      messages.push({ role: m.role, content: partsText(m.content, `${param}.content`) });
    } else if (type === 'function_call') {
      const call = FunctionCallItem.parse(item);
      const last = messages[messages.length - 1];
      const toolCall = {
        id: call.call_id,
        type: 'function' as const,
        function: { name: call.name, arguments: call.arguments },
      };
      // Consecutive calls are one assistant turn, as the model wrote them.
      if (last?.role === 'assistant' && last.tool_calls) last.tool_calls.push(toolCall);
      else messages.push({ role: 'assistant', content: null, tool_calls: [toolCall] });
    } else if (type === 'function_call_output') {
      const out = FunctionCallOutputItem.parse(item);
      messages.push({
        role: 'tool',
        tool_call_id: out.call_id,
        content: partsText(out.output, `${param}.output`),
      });
    } else if (type === 'item_reference') {
      const text = textOfMessageId(String(item.id));
      if (text === null)
        throw badRequest(
          `${param}: this server stores no responses, so item '${String(item.id)}' cannot be looked up; send the item itself`,
          param,
          'unsupported_parameter',
        );
      messages.push({ role: 'assistant', content: text });
    } else if (type === 'reasoning') {
      // Reasoning items from other models carry nothing this model wrote: skipped.
    } else
      throw badRequest(`${param}: input items of type ${String(type)} are not supported`, param);
  });
  if (messages.length === 0) throw badRequest('input must contain at least one message', 'input');
  const tools = (req.tools ?? []).map((t, i) => {
    const tool = ResponseFunctionToolSchema.safeParse(t);
    if (!tool.success)
      throw badRequest(
        `tools[${i}]: only function tools are supported (got ${t.type})`,
        `tools[${i}].type`,
        'unsupported_parameter',
      );
    const { name, description, parameters, strict } = tool.data;
    // Only the fields the client sent: the template renders the tool with `tojson`, and a `"strict": null` the
    // client never wrote would change the tools block the model reads (the chat route passes tools as sent).
    const fn = Object.fromEntries(
      Object.entries({ name, description, parameters, strict }).filter(([, v]) => v !== undefined),
    ) as {
      name: string;
      description?: string;
      parameters?: Record<string, unknown>;
      strict?: boolean | null;
    };
    return { type: 'function' as const, function: fn };
  });
  const choice = req.tool_choice;
  const format = req.text?.format;
  const knobs = Object.fromEntries(
    Object.keys(decodeFields).map((k) => [k, (req as Record<string, unknown>)[k]]),
  );
  return {
    ...knobs,
    model: req.model,
    messages,
    max_tokens: req.max_output_tokens ?? null,
    stream: req.stream ?? false,
    user: req.user,
    tools: tools.length > 0 ? tools : null,
    tool_choice:
      typeof choice === 'object' && choice !== null
        ? { type: 'function', function: { name: choice.name } }
        : (choice ?? null),
    parallel_tool_calls: req.parallel_tool_calls ?? null,
    logprobs: req.top_logprobs != null ? true : null,
    top_logprobs: req.top_logprobs ?? null,
    ...(format && format.type !== 'text' ? { response_format: responseFormat(format) } : {}),
  } as ChatCompletionRequest;
}

/** Responses' `text.format` as chat's `response_format` (json_schema's fields sit one level up there). */
function responseFormat(format: { type: string } & Record<string, unknown>) {
  if (format.type !== 'json_schema') return { type: format.type };
  const { type: _type, ...schema } = format;
  return { type: 'json_schema', json_schema: schema };
}
