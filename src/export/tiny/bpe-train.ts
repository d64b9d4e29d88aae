/**
 * @module
 * A small byte-level BPE trainer (GPT-2 style) for the tiny model's tokenizer.
 *
 * Text is split with the GPT-2 pre-tokenizer regex (the one @huggingface/tokenizers' ByteLevel pre-tokenizer
 * uses), each piece's UTF-8 bytes are mapped to printable characters (bytes_to_unicode), and the most frequent
 * adjacent pair is merged until the vocabulary is full or no pair occurs twice. Every byte is in the base
 * alphabet, so any text encodes and decodes back exactly.
 */

/** GPT-2 pre-tokenizer pattern, identical to the ByteLevel pre-tokenizer's with use_regex: true. */
export const BYTE_LEVEL_PATTERN =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2 bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 upwards, in byte order. */
export function bytesToUnicode(): string[] {
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable =
      (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
}

export interface TrainedBpe {
  /** Token strings by id: the 256 byte characters (sorted by code point), then one per new merge result. */
  tokens: string[];
  /** Merges in rank order. */
  merges: [string, string][];
}

/**
 * Learn merges from `text` until there are `targetVocab` tokens or the most frequent pair occurs once.
 * Ties between equally frequent pairs go to the pair whose (left, right) strings sort first, so the result
 * depends only on the text and target.
 */
export function trainByteLevelBpe(text: string, targetVocab: number): TrainedBpe {
  const byteChars = bytesToUnicode();
  const tokens = [...byteChars].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0));
  const idOf = new Map(tokens.map((t, i) => [t, i]));

  const wordCounts = new Map<string, number>();
  const encoder = new TextEncoder();
  for (const piece of text.match(BYTE_LEVEL_PATTERN) ?? []) {
    const mapped = Array.from(encoder.encode(piece), (b) => byteChars[b]).join('');
    wordCounts.set(mapped, (wordCounts.get(mapped) ?? 0) + 1);
  }
  const words = [...wordCounts].map(([w, count]) => ({
    symbols: Array.from(w, (c) => idOf.get(c)!),
    count,
  }));

  const merges: [string, string][] = [];
  // Pair keys pack two ids into one number; ids stay far below 2^21.
  const SHIFT = 2 ** 21;
  while (tokens.length < targetVocab) {
    const pairCounts = new Map<number, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = symbols[i] * SHIFT + symbols[i + 1];
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      }
    }
    let best = -1;
    let bestCount = 1; // a pair seen once teaches nothing: stop when nothing repeats
    for (const [key, count] of pairCounts) {
      if (
        count > bestCount ||
        (count === bestCount && best >= 0 && comparePairs(tokens, key, best, SHIFT) < 0)
      ) {
        best = key;
        bestCount = count;
      }
    }
    if (best < 0) break;
    const left = Math.floor(best / SHIFT);
    const right = best % SHIFT;
    const merged = tokens[left] + tokens[right];
    merges.push([tokens[left], tokens[right]]);
    // Two merge paths can spell the same string ("a"+"bc", "ab"+"c"); the token is then reused.
    let id = idOf.get(merged);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(merged);
      idOf.set(merged, id);
    }
    for (const w of words) w.symbols = applyMerge(w.symbols, left, right, id);
  }
  return { tokens, merges };
}

function comparePairs(tokens: string[], a: number, b: number, shift: number): number {
  const [la, ra] = [tokens[Math.floor(a / shift)], tokens[a % shift]];
  const [lb, rb] = [tokens[Math.floor(b / shift)], tokens[b % shift]];
  if (la !== lb) return la < lb ? -1 : 1;
  return ra < rb ? -1 : ra > rb ? 1 : 0;
}

function applyMerge(symbols: number[], left: number, right: number, merged: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      out.push(merged);
      i++;
    } else out.push(symbols[i]);
  }
  return out;
}
