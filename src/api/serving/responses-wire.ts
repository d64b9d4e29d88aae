/**
 * The Responses API's answer: a `response` object whose `output` holds a message item (the text) and a
 * function_call item per tool call, and its stream of typed events (`event: <type>` + `data: {type, …,
 * sequence_number}`): response.created, response.in_progress, output items and content parts added and done,
 * response.output_text.delta, response.function_call_arguments.delta/done, then response.completed (or
 * response.incomplete at max_output_tokens).
 */
import type { ResponseRequest } from '../protocol/responses.ts';
import { messageItemId, rememberMessage } from '../protocol/responses.ts';
import type { Flavor, SseEvent, Usage, WireContext } from './flavors.ts';
import { chatLogprobs } from './flavors.ts';
import type { ChoiceResult, TokenLogprobEntry } from './generation.ts';

type Item = Record<string, unknown>;

const randomHex = () => crypto.randomUUID().replace(/-/g, '');

function responsesUsage(u: Usage) {
  return {
    input_tokens: u.prompt_tokens,
    input_tokens_details: { cached_tokens: u.prompt_tokens_details.cached_tokens },
    output_tokens: u.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.total_tokens,
  };
}

/** A Flavor for one Responses request (its fields are echoed in the response object). */
export function responsesFlavor(req: ResponseRequest): Flavor {
  return {
    idPrefix: 'resp_',
    wire(ctx: WireContext) {
      const logprobs = (entries: TokenLogprobEntry[] | undefined) =>
        entries ? chatLogprobs(ctx.codec, entries) : [];
      const response = (status: string, output: Item[], extra: Record<string, unknown> = {}) => ({
        id: ctx.id,
        object: 'response',
        created_at: ctx.created,
        status,
        background: false,
        error: null,
        incomplete_details: null,
        instructions: req.instructions ?? null,
        max_output_tokens: req.max_output_tokens ?? null,
        model: ctx.model,
        output,
        parallel_tool_calls: req.parallel_tool_calls ?? true,
        previous_response_id: null,
        reasoning: { effort: null, summary: null },
        store: false,
        temperature: req.temperature ?? 0,
        text: { format: req.text?.format ?? { type: 'text' } },
        tool_choice: req.tool_choice ?? 'auto',
        tools: req.tools ?? [],
        top_logprobs: req.top_logprobs ?? 0,
        top_p: req.top_p ?? 1,
        truncation: 'disabled',
        usage: null,
        user: req.user ?? null,
        metadata: req.metadata ?? {},
        ...extra,
      });
      const finalStatus = (r: ChoiceResult | undefined) =>
        r?.finishReason === 'length'
          ? {
              status: 'incomplete',
              extra: { incomplete_details: { reason: 'max_output_tokens' } },
            }
          : { status: 'completed', extra: {} };
      const messageItem = (text: string, lp: TokenLogprobEntry[] | null) => ({
        type: 'message',
        id: messageItemId(text),
        status: 'completed',
        role: 'assistant',
        content: [
          { type: 'output_text', text, annotations: [], logprobs: logprobs(lp ?? undefined) },
        ],
      });
      const callItem = (call: { id: string; name: string; arguments: string }) => ({
        type: 'function_call',
        id: `fc_${randomHex()}`,
        call_id: call.id,
        name: call.name,
        arguments: call.arguments,
        status: 'completed',
      });
      const itemsOf = (r: ChoiceResult): Item[] => [
        ...(r.text !== null && (r.text !== '' || r.toolCalls.length === 0)
          ? [messageItem(r.text, r.logprobs)]
          : []),
        ...r.toolCalls.map(callItem),
      ];

      // Streaming state: the open message item, the output so far.
      let sequence = 0;
      const output: Item[] = [];
      let open: { index: number; text: string; logprobs: ReturnType<typeof logprobs> } | null =
        null;
      let last: ChoiceResult | undefined;
      const ev = (type: string, fields: Record<string, unknown>): SseEvent => ({
        event: type,
        data: JSON.stringify({ type, ...fields, sequence_number: sequence++ }),
      });
      const closeMessage = (): SseEvent[] => {
        if (!open) return [];
        const { index, text } = open;
        const item = { ...messageItem(text, null), id: output[index].id };
        (item.content[0] as Item).logprobs = open.logprobs;
        const part = item.content[0];
        output[index] = item;
        rememberMessage(item.id as string, text);
        open = null;
        const at = { item_id: item.id, output_index: index, content_index: 0 };
        return [
          ev('response.output_text.done', { ...at, text, logprobs: part.logprobs }),
          ev('response.content_part.done', { ...at, part }),
          ev('response.output_item.done', { output_index: index, item }),
        ];
      };

      return {
        start: () => {
          const r = response('in_progress', []);
          return [
            ev('response.created', { response: r }),
            ev('response.in_progress', { response: r }),
          ];
        },
        choiceStart: () => [],
        output(_index, e) {
          if (e.type === 'content') {
            const events: SseEvent[] = [];
            if (!open) {
              // The id is fixed when the item opens: a random one (its text is not known yet).
              const item = {
                type: 'message',
                id: `msg_${randomHex()}`,
                status: 'in_progress',
                role: 'assistant',
                content: [],
              };
              open = { index: output.length, text: '', logprobs: [] };
              output.push(item);
              events.push(ev('response.output_item.added', { output_index: open.index, item }));
              events.push(
                ev('response.content_part.added', {
                  item_id: item.id,
                  output_index: open.index,
                  content_index: 0,
                  part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
                }),
              );
            }
            open.text += e.text;
            const lp = logprobs(e.logprobs);
            open.logprobs.push(...lp);
            if (e.text !== '' || lp.length > 0)
              events.push(
                ev('response.output_text.delta', {
                  item_id: output[open.index].id,
                  output_index: open.index,
                  content_index: 0,
                  delta: e.text,
                  logprobs: lp,
                }),
              );
            return events;
          }
          const events = closeMessage();
          const item = callItem(e.call);
          const index = output.length;
          output.push(item);
          const at = { item_id: item.id, output_index: index };
          events.push(
            ev('response.output_item.added', {
              output_index: index,
              item: { ...item, arguments: '', status: 'in_progress' },
            }),
            ev('response.function_call_arguments.delta', { ...at, delta: item.arguments }),
            ev('response.function_call_arguments.done', {
              ...at,
              name: item.name,
              arguments: item.arguments,
            }),
            ev('response.output_item.done', { output_index: index, item }),
          );
          return events;
        },
        denoise: () => [],
        choiceEnd: (_index, r) => {
          last = r;
          return closeMessage();
        },
        end(usage) {
          const { status, extra } = finalStatus(last);
          return [
            ev(`response.${status}`, {
              response: response(status, output, { ...extra, usage: responsesUsage(usage) }),
            }),
          ];
        },
        error: ({ error }) => [
          ev('error', { code: error.code, message: error.message, param: error.param }),
        ],
        body(results, usage) {
          const r = results[0];
          const { status, extra } = finalStatus(r);
          const items = r ? itemsOf(r) : [];
          return response(status, items, { ...extra, usage: responsesUsage(usage) });
        },
      };
    },
  };
}
