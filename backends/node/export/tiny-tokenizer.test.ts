import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { bytesToUnicode, trainByteLevelBpe } from '../../../src/export/tiny/bpe-train.ts';
import { makeTinyModel } from './make-tiny-model.ts';

let root: string;
let tokenizer: Tokenizer;
let tokenizerConfig: Record<string, unknown>;
let config: Record<string, unknown>;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'unmask-tok-'));
  const { dir, rawConfig } = await makeTinyModel({ out: join(root, 'm') });
  config = rawConfig;
  tokenizerConfig = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
  tokenizer = new Tokenizer(
    JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')),
    tokenizerConfig,
  );
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('trainer', () => {
  test('bytes_to_unicode matches GPT-2 at its landmarks', () => {
    const t = bytesToUnicode();
    assert.equal(t[0x20], 'Ġ');
    assert.equal(t[0x0a], 'Ċ');
    assert.equal(t[0x41], 'A');
    assert.equal(t[0xa0], 'ł');
    assert.equal(t[0xad], 'Ń');
    assert.equal(new Set(t).size, 256);
  });

  test('merges the most frequent pair first and stops when nothing repeats', () => {
    const bpe = trainByteLevelBpe('aaa aaa ab', 1000);
    assert.deepEqual(bpe.merges[0], ['a', 'a']);
    assert.equal(bpe.tokens.length, 256 + bpe.merges.length);
    assert.ok(bpe.tokens.length < 1000);
  });
});

describe('tokenizer.json in @huggingface/tokenizers', () => {
  const texts = [
    'The river keeps going, and the train is late again.',
    '  Leading spaces, trailing spaces   \n\ttabs\tand\r\nnewlines\n\n',
    "It's 7:45 — don't panic! (x + y) * 2 = 14; path/to/file.txt",
    'café naïve Straße fenêtre niño résumé',
    '日本語のテキスト, Ελληνικά, русский, عربى, emoji 🙂👍🏽, math ∑∫√',
    'a<|mask|><|mask|>b',
  ];
  for (const text of texts) {
    test(`round trip: ${JSON.stringify(text.slice(0, 24))}`, () => {
      const { ids } = tokenizer.encode(text);
      assert.equal(tokenizer.decode(ids), text);
      assert.ok(ids.every((id) => id >= 0 && id < (config.vocab_size as number)));
    });
  }

  test('merges compress the training language', () => {
    const text = 'the morning started with a thin fog over the river';
    assert.ok(tokenizer.encode(text).ids.length < text.length / 2);
  });

  test('special tokens encode to single ids that match config.json', () => {
    const { ids } = tokenizer.encode('<role>HUMAN</role>hi<|role_end|><|mask|><|endoftext|>');
    assert.equal(ids[0], 509);
    assert.equal(ids.filter((id) => id === 510).length, 1);
    assert.deepEqual(ids.slice(-3), [511, config.mask_token_id, config.eos_token_id]);
    assert.equal(tokenizer.token_to_id('<|mask|>'), config.mask_token_id);
    assert.equal(tokenizer.decode(ids, { skip_special_tokens: true }), 'HUMANhi');
  });
});

describe('chat template', () => {
  const render = (messages: unknown[], addGenerationPrompt = true) =>
    new Template(tokenizerConfig.chat_template as string).render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      eos_token: '<|endoftext|>',
      bos_token: '',
    });

  test('the official serving prompt for one user turn', () => {
    assert.equal(
      render([{ role: 'user', content: 'Why is the sky blue?' }]),
      '<role>SYSTEM</role>detailed thinking off<|role_end|><role>HUMAN</role>Why is the sky blue?<|role_end|><role>ASSISTANT</role>',
    );
  });

  test('system prompt, history, later system message, no generation prompt', () => {
    const out = render(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'system', content: 'Now in French.' },
        { role: 'user', content: 'Bye' },
      ],
      false,
    );
    assert.equal(
      out,
      '<role>SYSTEM</role>Be brief.\ndetailed thinking off<|role_end|><role>HUMAN</role>Hi<|role_end|>' +
        '<role>ASSISTANT</role>Hello<|role_end|><role>SYSTEM</role>Now in French.<|role_end|><role>HUMAN</role>Bye<|role_end|>',
    );
  });

  test('non-string content renders as empty text; the rendered prompt tokenizes with single-id markers', () => {
    const out = render([{ role: 'user', content: [{ type: 'text', text: 'x' }] }]);
    assert.equal(
      out,
      '<role>SYSTEM</role>detailed thinking off<|role_end|><role>HUMAN</role><|role_end|><role>ASSISTANT</role>',
    );
    const ids = tokenizer.encode(out).ids;
    assert.equal(ids.filter((id) => id === 509).length, 3);
    assert.equal(ids.at(-1), 510);
  });

  test('tokenizer_config.json carries the special tokens', () => {
    assert.equal(tokenizerConfig.eos_token, '<|endoftext|>');
    assert.equal(tokenizerConfig.mask_token, '<|mask|>');
    assert.equal(tokenizerConfig.bos_token, null);
    assert.equal(tokenizerConfig.add_bos_token, false);
    const decoder = tokenizerConfig.added_tokens_decoder as Record<
      string,
      { content: string; special: boolean }
    >;
    assert.equal(decoder[String(config.eos_token_id)].content, '<|endoftext|>');
    assert.ok(Object.values(decoder).every((t) => t.special));
  });
});
