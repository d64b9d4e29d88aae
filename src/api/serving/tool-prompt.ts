/**
 * Tools in the prompt: the model's own chat template renders them (its `tools` variable), and a required or named
 * tool_choice is enforced by writing the call's opening into the prompt — the text the template itself renders
 * for an assistant tool call, up to the function name (required) or up to the arguments (named) — so the model
 * continues a call it cannot decline.
 */
import { badRequest } from '../api-error.ts';
import type { ChatMessage, TextCodec } from '../../model/text-codec.ts';
import type { ToolPlan } from '../protocol/tools.ts';
import { CALL_OPEN } from './tool-calls.ts';

const SENTINEL_NAME = 'unmask_sentinel_function';
const SENTINEL_KEY = 'unmask_sentinel_argument';

/** The tools as the template's `tools` variable, or a 400 when the model's template cannot render them. */
export function templateTools(codec: TextCodec, plan: ToolPlan): object[] | undefined {
  if (plan.tools.length === 0) return undefined;
  if (!codec.templateRendersTools)
    throw badRequest(
      "tools: this model's chat template does not render tools, so it cannot call them",
      'tools',
      'unsupported_parameter',
    );
  return plan.tools;
}

/**
 * The text a forced reply starts with: `<tool_call>{"name": "` (required) or
 * `<tool_call>{"name": "add", "arguments": ` (named), as the template renders a call; null for `auto`.
 */
export function forcedCallOpening(codec: TextCodec, plan: ToolPlan): string | null {
  if (plan.mode === 'auto') return null;
  const turn = renderedCallTurn(codec, plan);
  const canonical = `${CALL_OPEN}{"name": "`;
  const nameAt = turn?.indexOf(SENTINEL_NAME) ?? -1;
  const head = turn && nameAt >= 0 ? turn.slice(0, nameAt) : null;
  const opening =
    head && head.includes(CALL_OPEN) ? head.slice(head.indexOf(CALL_OPEN)) : canonical;
  if (plan.mode === 'required') return opening;
  const afterName = turn && head ? turn.slice(nameAt + SENTINEL_NAME.length) : null;
  const keyAt = afterName?.indexOf(`"${SENTINEL_KEY}"`) ?? -1;
  const braceAt = afterName && keyAt > 0 ? afterName.lastIndexOf('{', keyAt) : -1;
  const between = afterName && braceAt >= 0 ? afterName.slice(0, braceAt) : '", "arguments": ';
  return opening + plan.mode.name + between;
}

/** The assistant turn the template renders for one sentinel call (null if it cannot be isolated). */
function renderedCallTurn(codec: TextCodec, plan: ToolPlan): string | null {
  const tools = plan.tools.length > 0 ? plan.tools : undefined;
  const user: ChatMessage[] = [{ role: 'user', content: 'x' }];
  const call: ChatMessage = {
    role: 'assistant',
    content: null,
    tool_calls: [
      {
        id: 'call_0',
        type: 'function',
        function: { name: SENTINEL_NAME, arguments: { [SENTINEL_KEY]: 1 } },
      },
    ],
  };
  try {
    const prompt = codec.applyChatTemplate(user, { addGenerationPrompt: true, tools });
    const full = codec.applyChatTemplate([...user, call], { addGenerationPrompt: false, tools });
    return full.startsWith(prompt) ? full.slice(prompt.length) : null;
  } catch {
    return null;
  }
}
