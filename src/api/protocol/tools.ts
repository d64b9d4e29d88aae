/**
 * Function tools on the wire: the request fields (`tools`, `tool_choice`, `parallel_tool_calls`, assistant
 * `tool_calls`, `role: "tool"` turns) and their validation into a ToolPlan. The chat template renders the tools;
 * serving/tool-calls.ts reads the model's `<tool_call>` output back into `tool_calls`.
 */
import { z } from '@hono/zod-openapi';
import { badRequest } from '../api-error.ts';

/** OpenAI's rule for function names (also keeps a name from carrying template markup). */
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

export const FunctionToolSchema = z
  .object({
    type: z.literal('function'),
    function: z.looseObject({
      name: z.string().regex(FUNCTION_NAME, 'must be 1 to 64 letters, digits, _ or -'),
      description: z.string().nullish(),
      parameters: z.record(z.string(), z.unknown()).nullish(),
      strict: z.boolean().nullish(),
    }),
  })
  .openapi('FunctionTool');

export const ToolChoiceSchema = z
  .union([
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
  ])
  .openapi('ToolChoice', {
    description:
      '`auto` (default with tools): the model may call tools; `none`: the tools are not offered; `required` or a ' +
      'named function: the reply starts with a call (the call opening is written into the prompt).',
  });

export const ToolCallSchema = z
  .object({
    id: z.string(),
    type: z.literal('function'),
    function: z.object({
      name: z.string(),
      arguments: z.string().openapi({ description: 'The arguments as a JSON text.' }),
    }),
  })
  .openapi('ToolCall');

/** Request fields of tools (spread into the chat request schema). */
export const toolFields = {
  tools: z.array(FunctionToolSchema).max(128).nullish(),
  tool_choice: ToolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
};

export type FunctionTool = z.infer<typeof FunctionToolSchema>;
export type ToolChoice = z.infer<typeof ToolChoiceSchema>;

/** What the request asks of tools, validated. */
export interface ToolPlan {
  /** The tools offered to the model through the template (empty: none, e.g. tool_choice "none"). */
  tools: FunctionTool[];
  /** `auto`: the model may call; `required`: it must call one; a name: it must call that one. */
  mode: 'auto' | 'required' | { name: string };
  /** false: only the first call is kept (and the decode stops after it). */
  parallel: boolean;
}

export const NO_TOOLS: ToolPlan = { tools: [], mode: 'auto', parallel: true };

/** Validates tools and tool_choice together (a named or required choice needs tools; names are unique). */
export function toolPlan(body: {
  tools?: FunctionTool[] | null;
  tool_choice?: ToolChoice | null;
  parallel_tool_calls?: boolean | null;
}): ToolPlan {
  const tools = body.tools ?? [];
  const seen = new Set<string>();
  tools.forEach((t, i) => {
    if (seen.has(t.function.name))
      throw badRequest(
        `tools[${i}].function.name: '${t.function.name}' is offered twice`,
        `tools[${i}].function.name`,
      );
    seen.add(t.function.name);
  });
  const choice = body.tool_choice ?? 'auto';
  const parallel = body.parallel_tool_calls ?? true;
  if (choice === 'none') return { tools: [], mode: 'auto', parallel };
  if (choice === 'auto') return { tools, mode: 'auto', parallel };
  if (tools.length === 0)
    throw badRequest('tool_choice requires tools: this request offers none', 'tool_choice');
  if (choice === 'required') return { tools, mode: 'required', parallel };
  const name = choice.function.name;
  if (!seen.has(name))
    throw badRequest(
      `tool_choice names the function '${name}', which is not in tools`,
      'tool_choice.function.name',
    );
  return { tools, mode: { name }, parallel };
}
