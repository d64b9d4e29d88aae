/**
 * The token table xgrammar needs, from a Hugging Face tokenizer.json: every id's bytes in GPT-2 byte-level
 * spelling, "" for ids the grammar must never produce (special tokens, unused ids, logit padding). Only
 * byte-level BPE tokenizers (LLaDA2's and the tiny models') are supported: their decoded text is exactly the
 * concatenation of the tokens' bytes, which is what the grammar checks.
 */
import { GrammarError } from './errors.ts';

export interface GrammarVocabulary {
  /** Id-ordered, byte-level spelled; "" = never allowed. Length = the model's logit width. */
  readonly encoded: string[];
  readonly vocabType: 'byte_level';
}

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number> | unknown };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  decoder?: { type?: string; decoders?: { type?: string }[] } | null;
}

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
function byteAlphabet(): string[] {
  const chars: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    chars[b] = String.fromCodePoint(printable ? b : next++);
  }
  return chars;
}

const ALPHABET = byteAlphabet();
const utf8 = new TextEncoder();

/** Raw text (an added token's content) in byte-level spelling. */
export function byteLevelSpelling(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += ALPHABET[b];
  return out;
}

function isByteLevel(decoder: TokenizerJson['decoder']): boolean {
  if (!decoder) return false;
  if (decoder.type === 'ByteLevel') return true;
  return (
    decoder.type === 'Sequence' && (decoder.decoders ?? []).some((d) => d.type === 'ByteLevel')
  );
}

export function grammarVocabulary(tokenizer: object, vocabSize: number): GrammarVocabulary {
  const t = tokenizer as TokenizerJson;
  const vocab = t.model?.vocab;
  if (t.model?.type !== 'BPE' || !isByteLevel(t.decoder) || !vocab || typeof vocab !== 'object')
    throw new GrammarError(
      "response_format needs a byte-level BPE tokenizer; this model's is not one",
      'response_format',
      'unsupported',
    );
  const encoded: string[] = new Array(vocabSize).fill('');
  for (const [piece, id] of Object.entries(vocab as Record<string, number>))
    if (Number.isInteger(id) && id >= 0 && id < vocabSize) encoded[id] = piece;
  // Added tokens are raw text, not byte-level spelled; special ones (EOS, mask, role markers) are never grammar text.
  for (const a of t.added_tokens ?? []) {
    if (!(Number.isInteger(a.id) && a.id >= 0 && a.id < vocabSize)) continue;
    encoded[a.id] = a.special ? '' : byteLevelSpelling(a.content);
  }
  return { encoded, vocabType: 'byte_level' };
}
