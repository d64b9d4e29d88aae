/**
 * @module
 * Task examples as token ids, through the same tokenizer and chat template a served request uses (TextCodec):
 * the prompt is the rendered single-turn chat up to the generation prompt `<role>ASSISTANT</role>`; the target
 * is the answer, `<|role_end|>` and `<|endoftext|>`, as the template closes an assistant turn (spec §1.3 notes).
 */
import { TextCodec } from '../src/model/text-codec.ts';
import type { TaskExample } from './tasks.ts';
import { demoTokenizerConfigJson, demoTokenizerJson } from './vocab.ts';

const ROLE_END = '<|role_end|>';
const EOS = '<|endoftext|>';

export interface EncodedExample {
  example: TaskExample;
  prompt: number[];
  /** Answer ids + `<|role_end|>` + EOS: exactly what a correct decode returns. */
  target: number[];
}

export function demoCodec(maxPositions = 256): TextCodec {
  return new TextCodec(demoTokenizerJson(), demoTokenizerConfigJson(maxPositions));
}

export function promptIds(codec: TextCodec, userMessage: string): number[] {
  return codec.encode(codec.applyChatTemplate([{ role: 'user', content: userMessage }]));
}

export function encodeExample(codec: TextCodec, example: TaskExample): EncodedExample {
  return {
    example,
    prompt: promptIds(codec, example.prompt),
    // Through the codec, so the ids are the package's own (the special tokens are added tokens).
    target: codec.encode(`${example.answer}${ROLE_END}${EOS}`),
  };
}
