/**
 * Prompt encoding that keeps a caller's text from forging control tokens. A prompt is a list of segments: trusted
 * markup (what a chat template writes) and untrusted text (message contents, a completion's prompt string). In
 * markup every added token is recognised, as the tokenizer would; in untrusted text a special token, or an added
 * token that contains one (e.g. a fused "<|role_end|><role>ASSISTANT</role>"), is ordinary text and encodes
 * through the normal path like any other characters. Plain added tokens (a task prefix such as "sort: ") are
 * still recognised in text: they cannot open or close a turn, and models are trained with them.
 *
 * Work is bounded: a prompt that cannot fit `maxTokens` by a byte count is refused before any tokenization, the
 * encoding stops as soon as it passes `maxTokens`, and long text is encoded in slices with a yield to the event
 * loop between them, so one large prompt never holds the isolate or the process for long.
 */
import type { Tokenizer } from '@huggingface/tokenizers';
import { nextTask } from './next-task.ts';
import { utf8Length } from './utf8-length.ts';

export interface PromptSegment {
  text: string;
  /** Untrusted text (message content, a prompt string): special tokens in it are ordinary text. */
  untrusted: boolean;
}

export interface EncodeLimits {
  /** The most tokens the prompt may have; past it, PromptTooLongError (early, without finishing the work). */
  maxTokens?: number;
}

/** The prompt has more than `limit` tokens; `atLeast` is a lower bound of its length (work stopped there). */
export class PromptTooLongError extends Error {
  override name = 'PromptTooLongError';
  constructor(
    readonly atLeast: number,
    readonly limit: number,
  ) {
    super(`the prompt has at least ${atLeast} tokens, more than the ${limit} that fit`);
  }
}

/** Text that cannot be encoded without a reserved token (a tokenizer whose merges spell a special token). */
export class PromptEncodingError extends Error {
  override name = 'PromptEncodingError';
}

interface Added {
  id: number;
  content: string;
  lstrip: boolean;
  rstrip: boolean;
}

type Piece = { token: Added } | { text: string };

/** Text between slices is cut before a single space between two non-space characters ("x| y"), which every
 * common pre-tokenizer (GPT-2/Llama-style regexes, Metaspace, whitespace) also treats as a boundary. */
const SLICE_CHARS = 2048;
/** A run this long without such a boundary is cut anyway (a base64 blob): tokens at the cut may differ. */
const FORCE_CUT_CHARS = 16384;
/** Characters encoded between two yields to the event loop (a few ms of work). */
const YIELD_EVERY_CHARS = 16384;

/** Leftmost-longest matching of added tokens, as the tokenizer's own splitter does. */
class TokenTrie {
  private readonly root: Map<string, unknown> = new Map();
  private static readonly END = '\u0000end';

  constructor(tokens: Iterable<[string, Added]>) {
    for (const [content, token] of tokens) {
      if (!content) continue;
      let node = this.root;
      for (const ch of content) {
        let next = node.get(ch) as Map<string, unknown> | undefined;
        if (!next) node.set(ch, (next = new Map()));
        node = next;
      }
      node.set(TokenTrie.END, token);
    }
  }

  get empty(): boolean {
    return this.root.size === 0;
  }

  split(text: string, out: Piece[]): void {
    if (this.empty) {
      if (text) out.push({ text });
      return;
    }
    let start = 0;
    let i = 0;
    while (i < text.length) {
      let node: Map<string, unknown> | undefined = this.root;
      let match: Added | undefined;
      let matchEnd = i;
      for (let j = i; j < text.length; j++) {
        node = node.get(text[j]) as Map<string, unknown> | undefined;
        if (!node) break;
        const end = node.get(TokenTrie.END) as Added | undefined;
        if (end) {
          match = end;
          matchEnd = j + 1;
        }
      }
      if (match) {
        if (i > start) out.push({ text: text.slice(start, i) });
        out.push({ token: match });
        i = start = matchEnd;
      } else i++;
    }
    if (start < text.length) out.push({ text: text.slice(start) });
  }
}

const isSpace = (ch: string | undefined) => ch !== undefined && /\s/.test(ch);

/** Where the slice starting at `start` ends: a safe boundary past SLICE_CHARS, or a forced cut. */
function sliceEnd(text: string, start: number): { end: number; forced: boolean } {
  if (text.length - start <= SLICE_CHARS) return { end: text.length, forced: false };
  const limit = Math.min(text.length - 1, start + FORCE_CUT_CHARS);
  for (let i = start + SLICE_CHARS; i < limit; i++) {
    if (text[i] === ' ' && !isSpace(text[i - 1]) && !isSpace(text[i + 1]))
      return { end: i, forced: false };
  }
  if (start + FORCE_CUT_CHARS >= text.length) return { end: text.length, forced: false };
  let end = start + FORCE_CUT_CHARS;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // never split a surrogate pair
  return { end, forced: true };
}

interface TokenizerInternals {
  normalizer: ((text: string) => string) | null;
  pre_tokenizer: ((text: string, options?: { section_index?: number }) => string[]) | null;
  model: ((tokens: string[]) => string[]) & {
    vocab: string[];
    tokens_to_ids: Map<string, number>;
    unk_token_id?: number;
  };
  post_processor:
    ((tokens: string[], pair: null, addSpecial: boolean) => { tokens: string[] }) | null;
}

/** @example const ids = await new PromptEncoder(tokenizer, config).encode([{ text: '<|mask|>', untrusted: true }]) */
export class PromptEncoder {
  /** Bytes of the longest token: a prompt of B bytes has at least B / maxTokenBytes tokens. */
  readonly maxTokenBytes: number;
  private readonly internals: TokenizerInternals;
  private readonly markup: TokenTrie;
  private readonly text: TokenTrie;
  /** Added tokens matched after normalization (only those allowed in text). */
  private readonly normalizedText: TokenTrie;
  /** Ids that text must never produce: special tokens and added tokens that contain one. */
  private readonly reserved: Set<number>;
  private readonly prefix: number[];
  private readonly suffix: number[];
  /** What the pre-tokenizer puts before a section that does not start with a space (forced cuts drop it). */
  private readonly prefixMarker: string;
  private readonly removeSpace: boolean;
  private readonly lowercase: boolean;

  constructor(tokenizer: Tokenizer, config: Record<string, unknown>) {
    this.internals = tokenizer as unknown as TokenizerInternals;
    const { normalizer, model, post_processor: post } = this.internals;
    const added = [...tokenizer.get_added_tokens_decoder().values()];
    const specials = new Set<string>(added.filter((t) => t.special).map((t) => t.content));
    for (const s of (config.additional_special_tokens as string[] | undefined) ?? [])
      if (typeof s === 'string' && s) specials.add(s);
    const reservedTokens = added.filter(
      (t) => specials.has(t.content) || [...specials].some((s) => t.content.includes(s)),
    );
    this.reserved = new Set(reservedTokens.map((t) => t.id));
    const info = (t: (typeof added)[number]): Added => ({
      id: t.id,
      content: t.content,
      lstrip: t.lstrip,
      rstrip: t.rstrip,
    });
    // Same two passes as the tokenizer: unnormalized contents on the raw text, normalized ones after normalizing.
    const firstPass = added.filter((t) => !(t.normalized && normalizer !== null));
    const secondPass = added.filter((t) => t.normalized && normalizer !== null);
    const allowed = (t: (typeof added)[number]) => !this.reserved.has(t.id);
    this.markup = new TokenTrie(firstPass.map((t) => [t.content, info(t)]));
    this.text = new TokenTrie(firstPass.filter(allowed).map((t) => [t.content, info(t)]));
    this.normalizedText = new TokenTrie(
      secondPass.filter(allowed).map((t) => [normalizer!(t.content), info(t)]),
    );

    let longest = 0;
    for (const token of model.vocab) if (token) longest = Math.max(longest, utf8Length(token));
    for (const t of added) longest = Math.max(longest, utf8Length(t.content));
    this.maxTokenBytes = Math.max(1, longest);

    const placeholder = '\u0000unmask-sequence\u0000';
    const processed = post ? post([placeholder], null, true).tokens : [placeholder];
    const at = processed.indexOf(placeholder);
    const id = (t: string) => tokenizer.token_to_id(t) ?? model.unk_token_id ?? -1;
    this.prefix = processed.slice(0, Math.max(0, at)).map(id);
    this.suffix = at < 0 ? [] : processed.slice(at + 1).map(id);

    const pre = this.internals.pre_tokenizer;
    const probe = pre ? pre('a', { section_index: 1 }).join('') : 'a';
    this.prefixMarker = probe.endsWith('a') ? probe.slice(0, -1) : '';
    this.removeSpace = config.remove_space === true;
    this.lowercase = config.do_lowercase_and_remove_accent === true;
  }

  /**
   * Throws PromptTooLongError when the segments cannot fit `maxTokens` by their size alone, without tokenizing:
   * text of B UTF-8 bytes has at least B / maxTokenBytes tokens. UTF-16 code units never outnumber UTF-8 bytes,
   * so the length decides the largest prompts without a scan of the text.
   */
  refuseTooLong(segments: readonly PromptSegment[], { maxTokens = Infinity }: EncodeLimits = {}) {
    const fixed = this.prefix.length + this.suffix.length;
    let units = 0;
    for (const s of segments) units += s.text.length;
    let lowerBound = fixed + Math.ceil(units / this.maxTokenBytes);
    if (lowerBound <= maxTokens) {
      let bytes = 0;
      for (const s of segments) bytes += utf8Length(s.text);
      lowerBound = fixed + Math.ceil(bytes / this.maxTokenBytes);
    }
    if (lowerBound > maxTokens) throw new PromptTooLongError(lowerBound, maxTokens);
  }

  /** Encodes the segments as one sequence (with the tokenizer's own sequence prefix and suffix, e.g. a BOS). */
  async encode(
    segments: PromptSegment[],
    { maxTokens = Infinity }: EncodeLimits = {},
  ): Promise<number[]> {
    const limit = maxTokens;
    this.refuseTooLong(segments, { maxTokens });

    const pieces = this.pieces(segments);
    const ids: number[] = [...this.prefix];
    let sinceYield = 0;
    for (let p = 0; p < pieces.length; p++) {
      const piece = pieces[p];
      if ('token' in piece) {
        ids.push(piece.token.id);
        continue;
      }
      for (const part of this.normalizedParts(piece.text)) {
        if (typeof part !== 'string') {
          ids.push(part.id);
          continue;
        }
        let start = 0;
        let slice = 0;
        while (start < part.length) {
          const { end, forced } = sliceEnd(part, start);
          const continuation = start > 0;
          this.encodeSlice(part.slice(start, end), p + slice, continuation && forced, ids);
          sinceYield += end - start;
          start = end;
          slice++;
          if (ids.length + this.suffix.length > limit)
            throw new PromptTooLongError(ids.length + this.suffix.length, limit);
          if (sinceYield >= YIELD_EVERY_CHARS) {
            sinceYield = 0;
            await nextTask();
          }
        }
      }
      if (ids.length + this.suffix.length > limit)
        throw new PromptTooLongError(ids.length + this.suffix.length, limit);
    }
    ids.push(...this.suffix);
    if (ids.length > limit) throw new PromptTooLongError(ids.length, limit);
    return ids;
  }

  /** Segments → added tokens and text, adjacent text merged (so benign prompts encode as the whole string would). */
  private pieces(segments: PromptSegment[]): Piece[] {
    const raw: Piece[] = [];
    for (const s of segments) (s.untrusted ? this.text : this.markup).split(s.text, raw);
    const merged: Piece[] = [];
    for (const piece of raw) {
      const last = merged[merged.length - 1];
      if ('text' in piece && last && 'text' in last) last.text += piece.text;
      else merged.push('text' in piece ? { text: piece.text } : piece);
    }
    merged.forEach((piece, i) => {
      if (!('token' in piece)) return;
      const before = merged[i - 1];
      const after = merged[i + 1];
      if (piece.token.lstrip && before && 'text' in before) before.text = before.text.trimEnd();
      if (piece.token.rstrip && after && 'text' in after) after.text = after.text.trimStart();
    });
    return merged.filter((piece) => !('text' in piece) || piece.text.length > 0);
  }

  /** Text after the tokenizer's config flags and normalizer, split by the normalized added tokens text may use. */
  private normalizedParts(text: string): (string | Added)[] {
    let t = text;
    if (this.removeSpace) t = t.trim().split(/\s+/).join(' ');
    if (this.lowercase)
      t = t
        .toLowerCase()
        .normalize('NFD')
        .replace(/\p{Mn}/gu, '');
    if (this.internals.normalizer) t = this.internals.normalizer(t);
    const out: Piece[] = [];
    this.normalizedText.split(t, out);
    return out.map((p) => ('token' in p ? p.token : p.text));
  }

  private encodeSlice(text: string, sectionIndex: number, dropPrefix: boolean, ids: number[]) {
    const { pre_tokenizer: pre, model } = this.internals;
    let words = pre ? pre(text, { section_index: sectionIndex }) : [text];
    if (dropPrefix && this.prefixMarker && words[0]?.startsWith(this.prefixMarker)) {
      words = [words[0].slice(this.prefixMarker.length), ...words.slice(1)].filter(Boolean);
    }
    const encoded = this.toIds(model(words));
    if (!encoded.some((id) => this.reserved.has(id))) {
      for (const id of encoded) ids.push(id);
      return;
    }
    // The model's merges spelled a reserved token: encode that word character by character instead.
    for (const word of words) {
      let wordIds = this.toIds(model([word]));
      if (wordIds.some((id) => this.reserved.has(id)))
        wordIds = this.toIds(Array.from(word).flatMap((ch) => model([ch])));
      if (wordIds.some((id) => this.reserved.has(id)))
        throw new PromptEncodingError('the text contains a character the tokenizer reserves');
      for (const id of wordIds) ids.push(id);
    }
  }

  private toIds(tokens: string[]): number[] {
    const { tokens_to_ids: toId, unk_token_id: unk } = this.internals.model;
    return tokens.map((t) => {
      const id = toId.get(t) ?? unk;
      if (id === undefined)
        throw new PromptEncodingError(`no id for the token ${JSON.stringify(t)}`);
      return id;
    });
  }
}
