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

/** The id of each special token. */
export type SpecialIds = Readonly<Record<(typeof SPECIAL_TOKENS)[number], number>>;

/**
 * The Ling-2.0 / LLaDA2 chat format (docs/model-graph.md §4):
 * - `<role>SYSTEM</role>`, the first system message + "\n" if there is one, the tools block when `tools` (OpenAI
 *   function-tool objects) are given — one `tool | tojson` line per tool inside `<tools>…</tools>`, worded as the
 *   Ling-2.0 template words it — then `detailed thinking off<|role_end|>`;
 * - per message: user → `<role>HUMAN</role>{content}<|role_end|>`; a later system message →
 *   `<role>SYSTEM</role>{content}<|role_end|>`; assistant → `<role>ASSISTANT</role>{content}`, each of its
 *   `tool_calls` as `<tool_call>{"name": "…", "arguments": …}</tool_call>` ("\n" before every call but a first
 *   one with no content before it), then `<|role_end|>`; consecutive tool messages → one
 *   `<role>OBSERVATION</role>` turn with `\n<tool_response>\n{content}\n</tool_response>` per message;
 * - `<role>ASSISTANT</role>` as the generation prompt.
 * A tool call renders exactly as the models here write one (no newline inside the tags; the Ling-2.0 template
 * puts one after `<tool_call>` and before `</tool_call>`), so a conversation that carries a model's call back
 * renders the tokens the model produced. String arguments are copied verbatim, others go through tojson.
 * Non-string content (multimodal parts, a null assistant content) renders as empty text.
 */
export const CHAT_TEMPLATE = [
  "{{- '<role>SYSTEM</role>' }}",
  "{%- if messages and messages[0].role == 'system' and messages[0].content is string %}{{- messages[0].content + '\\n' }}{%- endif %}",
  '{%- if tools %}',
  "{{- '# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}",
  "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}",
  '{{- \'\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{"name": <function-name>, "arguments": <args-json-object>}\\n</tool_call>\\n\' }}',
  '{%- endif %}',
  "{{- 'detailed thinking off<|role_end|>' }}",
  '{%- for message in messages %}',
  "{%- set content = message.content if message.content is string else '' %}",
  "{%- if message.role == 'user' %}{{- '<role>HUMAN</role>' + content + '<|role_end|>' }}",
  "{%- elif message.role == 'assistant' %}{{- '<role>ASSISTANT</role>' + content }}",
  '{%- if message.tool_calls %}{%- for tool_call in message.tool_calls %}',
  "{%- if (loop.first and content) or (not loop.first) %}{{- '\\n' }}{%- endif %}",
  '{%- set call = tool_call.function if tool_call.function else tool_call %}',
  '{{- \'<tool_call>{"name": "\' + call.name + \'", "arguments": \' }}',
  '{%- if call.arguments is string %}{{- call.arguments }}{%- else %}{{- call.arguments | tojson }}{%- endif %}',
  "{{- '}</tool_call>' }}",
  '{%- endfor %}{%- endif %}',
  "{{- '<|role_end|>' }}",
  "{%- elif message.role == 'tool' %}",
  "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<role>OBSERVATION</role>' }}{%- endif %}",
  "{{- '\\n<tool_response>\\n' + content + '\\n</tool_response>' }}",
  "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|role_end|>' }}{%- endif %}",
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

/** `ids`: where the special tokens go (default: the last five ids of the vocabulary). */
export function tokenizerJson(
  bpe: TrainedBpe,
  vocabSize: number,
  ids: SpecialIds = specialTokenIds(vocabSize),
): Record<string, unknown> {
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
  ids: SpecialIds = specialTokenIds(vocabSize),
): Record<string, unknown> {
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
