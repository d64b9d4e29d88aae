/**
 * Prompt sources → token ids through the model's codec, with errors that name the request's prompt field: a prompt
 * that cannot leave room for one generated token is refused early (context_length_exceeded) without finishing,
 * or even starting, its tokenization.
 */
import { PromptEncodingError, PromptTooLongError } from '../../model/prompt-encoding.ts';
import { TemplateError } from '../../model/text-codec.ts';
import { badRequest } from '../errors.ts';
import type { OpenModel } from '../engine.ts';
import type { PromptSource } from '../protocol/prompts.ts';
import type { ChatMessage, TextCodec } from '../../model/text-codec.ts';
import type { ToolPlan } from '../protocol/tools.ts';
import { forcedCallOpening, templateTools } from './tool-prompt.ts';

function tooLong(tokens: string, context: number, param: string) {
  return badRequest(
    `the prompt has ${tokens} tokens, which fills the model's context of ${context}`,
    param,
    'context_length_exceeded',
  );
}

/** @example const prompts = await encodePrompts(model, chatPrompts(body), 'messages') */
export async function encodePrompts(
  model: OpenModel,
  sources: PromptSource[],
  promptParam: string,
): Promise<number[][]> {
  const context = model.info.maxPositions;
  const limits = { maxTokens: context - 1 };
  const prompts: number[][] = [];
  for (const source of sources) {
    try {
      if ('ids' in source) {
        if (source.ids.length > limits.maxTokens)
          throw tooLong(String(source.ids.length), context, promptParam);
        prompts.push(source.ids);
      } else if ('text' in source) prompts.push(await model.codec.encodeText(source.text, limits));
      else prompts.push(await encodeChatPrompt(model.codec, source.messages, source.tools, limits));
    } catch (e: unknown) {
      if (e instanceof PromptTooLongError)
        throw tooLong(`at least ${e.atLeast}`, context, promptParam);
      if (e instanceof TemplateError || e instanceof PromptEncodingError)
        throw badRequest(e.message, promptParam);
      throw e;
    }
  }
  return prompts;
}

/**
 * Messages (and the tools offered) → ids; a forced tool call's opening follows the generation prompt. Tool
 * definitions and call arguments are rendered as markup, so they may not spell a special token.
 */
async function encodeChatPrompt(
  codec: TextCodec,
  messages: ChatMessage[],
  plan: ToolPlan,
  limits: { maxTokens: number },
): Promise<number[]> {
  const tools = templateTools(codec, plan);
  refuseMarkup(codec, plan.tools, 'tools');
  messages.forEach((m, i) => refuseMarkup(codec, m.tool_calls, `messages[${i}].tool_calls`));
  const ids = await codec.encodeChat(messages, { ...limits, tools });
  const opening = forcedCallOpening(codec, plan);
  return opening ? [...ids, ...codec.encode(opening)] : ids;
}

function refuseMarkup(codec: TextCodec, value: unknown, param: string): void {
  if (value === undefined || value === null) return;
  const special = codec.specialTokenIn(JSON.stringify(value));
  if (special)
    throw badRequest(`${param} may not contain the model's control token ${special}`, param);
}
