/**
 * @module
 * Task examples as token ids, through the same tokenizer and chat template a served request uses (TextCodec):
 * each stage's prompt is its conversation rendered up to the generation prompt `<role>ASSISTANT</role>` (with
 * the tools block when the stage offers tools); its target is the expected reply, `<|role_end|>` and
 * `<|endoftext|>`, as the template closes an assistant turn (docs/model-graph.md §4).
 */
import { TextCodec } from '../src/model/text-codec.ts';
import { stagesOf, type ChatStage, type TaskExample } from './task.ts';
import { demoTokenizerConfigJson, demoTokenizerJson } from './vocab.ts';

const ROLE_END = '<|role_end|>';
const EOS = '<|endoftext|>';

export interface EncodedExample {
  example: TaskExample;
  /** Which of the example's stages this is. */
  stage: number;
  prompt: number[];
  /** Reply ids + `<|role_end|>` + EOS: exactly what a correct decode returns. */
  target: number[];
}

export function demoCodec(maxPositions = 4096): TextCodec {
  return new TextCodec(demoTokenizerJson(), demoTokenizerConfigJson(maxPositions));
}

/** A single user turn, rendered and tokenized. */
export function promptIds(codec: TextCodec, userMessage: string): number[] {
  return codec.encode(codec.applyChatTemplate([{ role: 'user', content: userMessage }]));
}

/** A stage's conversation, rendered (with its tools) and tokenized. */
export function stagePromptIds(codec: TextCodec, stage: ChatStage): number[] {
  return codec.encode(codec.applyChatTemplate(stage.messages, { tools: stage.tools }));
}

export function encodeStage(codec: TextCodec, example: TaskExample, stage: number): EncodedExample {
  const s = stagesOf(example)[stage];
  if (!s) throw new Error(`example ${JSON.stringify(example.prompt)} has no stage ${stage}`);
  return {
    example,
    stage,
    prompt: stagePromptIds(codec, s),
    // Through the codec, so the ids are the package's own (the special tokens are added tokens).
    target: codec.encode(`${s.answer}${ROLE_END}${EOS}`),
  };
}

/** Every stage of an example, in order. */
export function encodeExample(codec: TextCodec, example: TaskExample): EncodedExample[] {
  return stagesOf(example).map((_, i) => encodeStage(codec, example, i));
}
