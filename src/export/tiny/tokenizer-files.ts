/**
 * @module
 * tokenizer.json and tokenizer_config.json for the tiny model, in the Hugging Face formats that
 * @huggingface/tokenizers and transformers read.
 *
 * Special-token ids: the five special tokens take the LAST five ids of the model vocabulary, V-5..V-1, in
 * SPECIAL_TOKENS order (eos `<|endoftext|>`, mask `<|mask|>`, `<role>`, `</role>`, `<|role_end|>`), whatever
 * the corpus yields. When the corpus runs out of merges before the BPE part fills ids [0, V-5), the ids in
 * between are simply unused. The special tokens also appear in model.vocab, as GPT-2's `<|endoftext|>` does,
 * so loaders that assign added-token ids from the model vocabulary agree with the ids written here.
 */
import { SPECIAL_TOKENS, specialTokenIds } from './options.ts';
import type { TrainedBpe } from './bpe-train.ts';

/**
 * The Ling-2.0 / LLaDA2 chat format (docs/model-graph.md §4), without tool calls:
 * `<role>SYSTEM</role>[first system message + "\n"]detailed thinking off<|role_end|>`, then per message
 * `<role>HUMAN|ASSISTANT|SYSTEM</role>{content}<|role_end|>`, then `<role>ASSISTANT</role>` as the generation prompt.
 * Non-string content (multimodal parts) renders as empty text.
 */
export const CHAT_TEMPLATE = [
  "{{- '<role>SYSTEM</role>' }}",
  "{%- if messages and messages[0].role == 'system' and messages[0].content is string %}{{- messages[0].content + '\\n' }}{%- endif %}",
  "{{- 'detailed thinking off<|role_end|>' }}",
  '{%- for message in messages %}',
  "{%- set content = message.content if message.content is string else '' %}",
  "{%- if message.role == 'user' %}{{- '<role>HUMAN</role>' + content + '<|role_end|>' }}",
  "{%- elif message.role == 'assistant' %}{{- '<role>ASSISTANT</role>' + content + '<|role_end|>' }}",
  "{%- elif message.role == 'system' and not loop.first %}{{- '<role>SYSTEM</role>' + content + '<|role_end|>' }}",
  '{%- endif %}',
  '{%- endfor %}',
  "{%- if add_generation_prompt %}{{- '<role>ASSISTANT</role>' }}{%- endif %}",
].join('\n');

function addedToken(id: number, content: string) {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  };
}

export function tokenizerJson(bpe: TrainedBpe, vocabSize: number): Record<string, unknown> {
  const ids = specialTokenIds(vocabSize);
  const vocab: Record<string, number> = {};
  bpe.tokens.forEach((t, i) => {
    vocab[t] = i;
  });
  for (const t of SPECIAL_TOKENS) vocab[t] = ids[t];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((t) => addedToken(ids[t], t)),
    normalizer: null,
    pre_tokenizer: {
      type: 'ByteLevel',
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    },
    post_processor: {
      type: 'ByteLevel',
      add_prefix_space: true,
      trim_offsets: false,
      use_regex: true,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: bpe.merges,
    },
  };
}

export function tokenizerConfigJson(
  vocabSize: number,
  maxPositions: number,
): Record<string, unknown> {
  const ids = specialTokenIds(vocabSize);
  const decoder: Record<string, unknown> = {};
  for (const t of SPECIAL_TOKENS) {
    const { id: _id, ...rest } = addedToken(ids[t], t);
    decoder[String(ids[t])] = rest;
  }
  return llada2TokenizerConfig(decoder, maxPositions);
}

/** tokenizer_config.json around an added-tokens decoder: the LLaDA2 chat template and special-token names. */
export function llada2TokenizerConfig(
  addedTokensDecoder: Record<string, unknown>,
  maxPositions: number,
): Record<string, unknown> {
  return {
    add_bos_token: false,
    add_eos_token: false,
    added_tokens_decoder: addedTokensDecoder,
    bos_token: null,
    chat_template: CHAT_TEMPLATE,
    // Byte-level decoding is exact; the clean-up pass would delete spaces before punctuation.
    clean_up_tokenization_spaces: false,
    eos_token: '<|endoftext|>',
    pad_token: '<|endoftext|>',
    mask_token: '<|mask|>',
    model_max_length: maxPositions,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
}
