/**
 * @module
 * The demo model's tokenizer: a character-level vocabulary written as a byte-level BPE tokenizer.json (the 256
 * byte characters and no merges, so every text encodes and each task character is one token), plus
 * non-special added tokens for the chat template's fixed text and the task prefixes, so the fixed part of a
 * prompt costs a few tokens. The five special tokens take the last ids, as in src/export/tiny/tokenizer-files.ts.
 */
import { Template } from '@huggingface/jinja';
import { bytesToUnicode } from '../src/export/tiny/bpe-train.ts';
import { SPECIAL_TOKENS, specialTokenIds } from '../src/export/tiny/options.ts';
import { CHAT_TEMPLATE, llada2TokenizerConfig } from '../src/export/tiny/tokenizer-files.ts';
import { TASK_WORDS } from './tasks.ts';
import {
  ADD_TOOL,
  CALL_HEAD,
  CALL_MIDDLE,
  CALL_TAIL,
  TOOL_CALL_CLOSE,
  TOOL_CALL_OPEN,
} from './tool-task.ts';

/**
 * The fixed text of a single-turn prompt around the user message (docs/model-graph.md §4), one token each. A long
 * constant prefix made positional lookups (addition) far slower to learn, so the whole head and tail of the
 * rendered template are single tokens; added tokens match leftmost-longest, so they win over `<role>` and
 * `<|role_end|>`.
 */
export const PROMPT_HEAD = '<role>SYSTEM</role>detailed thinking off<|role_end|><role>HUMAN</role>';
export const PROMPT_TAIL = '<|role_end|><role>ASSISTANT</role>';

/**
 * The head of a prompt that offers the fixed tool list ([ADD_TOOL]): the template's whole SYSTEM turn with its
 * tools block, then `<role>HUMAN</role>`, rendered by the chat template itself so the two never drift apart.
 */
export const TOOLS_HEAD = (() => {
  const end = '<|role_end|>';
  const text = new Template(CHAT_TEMPLATE).render({
    messages: [{ role: 'user', content: '' }],
    tools: [ADD_TOOL],
    add_generation_prompt: false,
  });
  if (!text.endsWith(end)) throw new Error('chat template: unexpected tools rendering');
  return text.slice(0, -end.length);
})();

/** What follows a tool call up to the tool's result, and what closes the OBSERVATION turn. */
export const OBSERVATION_HEAD = '<|role_end|><role>OBSERVATION</role>\n<tool_response>\n';
export const OBSERVATION_TAIL = '\n</tool_response><|role_end|><role>ASSISTANT</role>';

/** Template words, for prompts that do not match the fixed heads and tails (a system message, several turns). */
export const TEMPLATE_WORDS = [
  'SYSTEM',
  'HUMAN',
  'ASSISTANT',
  'OBSERVATION',
  'detailed thinking off',
  '<tool_response>',
  '</tool_response>',
] as const;

/**
 * Added tokens that are ordinary text (decoded even with skip_special_tokens: `<tool_call>` must reach the API's
 * tool-call parser), in id order after the bytes.
 */
export const WORD_TOKENS: readonly string[] = [
  PROMPT_HEAD,
  PROMPT_TAIL,
  TOOLS_HEAD,
  OBSERVATION_HEAD,
  OBSERVATION_TAIL,
  ...TEMPLATE_WORDS,
  TOOL_CALL_OPEN,
  TOOL_CALL_CLOSE,
  CALL_HEAD,
  CALL_MIDDLE,
  CALL_TAIL,
  ...TASK_WORDS,
];

/** 256 byte characters + word tokens + special tokens. */
export const VOCAB_SIZE = 256 + WORD_TOKENS.length + SPECIAL_TOKENS.length;

export const TOKEN_IDS = specialTokenIds(VOCAB_SIZE);

function addedToken(id: number, content: string, special: boolean) {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special,
  };
}

function byteTokens(): string[] {
  return [...bytesToUnicode()].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0));
}

export function demoTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  byteTokens().forEach((t, i) => {
    vocab[t] = i;
  });
  const added = [
    ...WORD_TOKENS.map((t, i) => addedToken(256 + i, t, false)),
    ...SPECIAL_TOKENS.map((t) => addedToken(TOKEN_IDS[t], t, true)),
  ];
  for (const t of added) vocab[t.content] = t.id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
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
      merges: [],
    },
  };
}

export function demoTokenizerConfigJson(maxPositions: number): Record<string, unknown> {
  const decoder: Record<string, unknown> = {};
  for (const [i, t] of WORD_TOKENS.entries()) {
    const { id: _id, ...rest } = addedToken(256 + i, t, false);
    decoder[String(256 + i)] = rest;
  }
  for (const t of SPECIAL_TOKENS) {
    const { id: _id, ...rest } = addedToken(TOKEN_IDS[t], t, true);
    decoder[String(TOKEN_IDS[t])] = rest;
  }
  return llada2TokenizerConfig(decoder, maxPositions);
}
