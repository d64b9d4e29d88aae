/**
 * The served package's tokenizer, client-side: counts the tokens of delivered text, lists the added tokens an
 * attacker would type, and computes what a prompt must encode to when message contents are plain text — the
 * template's own markers special, every special token (and every added token that contains one, such as a
 * merged "<|role_end|><role>ASSISTANT</role>") inside content spelled out as ordinary text.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { readLocalManifest } from '../backends/node/stores/disk-package.ts';
import { TextCodec, type ChatMessage } from '../src/model/text-codec.ts';

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  /** A special token, or an added token containing one: typed in content, it must not come out as this id. */
  marker: boolean;
}

/**
 * How content may be encoded without forging anything: `safe` keeps the added tokens that contain no special
 * token (plain words such as "SYSTEM" or "sort: "); `none` spells out every added token. Either is plain text.
 */
export type PlainMode = 'safe' | 'none';
export const PLAIN_MODES: readonly PlainMode[] = ['safe', 'none'];

interface AddedTokenJson {
  id: number;
  content: string;
  special: boolean;
}

export class TokenOracle {
  private readonly full: Tokenizer;
  private readonly plain: Record<PlainMode, Tokenizer>;
  private readonly codec: TextCodec;
  readonly added: AddedToken[];

  constructor(tokenizerJson: Record<string, unknown>, config: Record<string, unknown>) {
    const added = (tokenizerJson.added_tokens as AddedTokenJson[] | undefined) ?? [];
    const specials = added.filter((t) => t.special).map((t) => t.content);
    this.added = added.map((t) => ({
      id: t.id,
      content: t.content,
      special: t.special,
      marker: t.special || specials.some((s) => t.content.includes(s)),
    }));
    const withAdded = (keep: (t: AddedToken) => boolean) =>
      new Tokenizer(
        {
          ...tokenizerJson,
          added_tokens: added.filter((t) => keep(this.added.find((a) => a.id === t.id)!)),
        },
        { ...config, added_tokens_decoder: undefined },
      );
    this.full = new Tokenizer(tokenizerJson, config);
    this.plain = { safe: withAdded((t) => !t.marker), none: withAdded(() => false) };
    this.codec = new TextCodec(tokenizerJson, config);
  }

  /**
   * Tokens of model output text (what a client can count of what it was delivered). A U+FFFD stands for bytes
   * the model emitted that are not valid UTF-8 (a random-weight model does that often): at least one token, so it
   * counts as one — encoding it would count the three bytes of U+FFFD itself and overstate what was delivered.
   */
  count(text: string): number {
    if (!text) return 0;
    const pieces = text.split('\uFFFD');
    return pieces.reduce((n, p) => n + (p ? this.full.encode(p).ids.length : 0), pieces.length - 1);
  }

  /** `text` encoded as plain text. */
  plainIds(text: string, mode: PlainMode): number[] {
    return text ? this.plain[mode].encode(text).ids : [];
  }

  /**
   * The prompt ids of a chat whose contents are plain text: the template rendered with a sentinel per content,
   * the template's text encoded with its markers, each content encoded plain.
   */
  chatIds(messages: ChatMessage[], mode: PlainMode): number[] {
    const sentinel = (i: number) => `\uE000${i}\uE001`;
    const rendered = this.codec.applyChatTemplate(
      messages.map((m, i) => ({ role: m.role, content: sentinel(i) })),
    );
    const ids: number[] = [];
    let rest = rendered;
    for (;;) {
      const m = /\uE000(\d+)\uE001/.exec(rest);
      if (!m) break;
      const before = rest.slice(0, m.index);
      if (before) ids.push(...this.full.encode(before).ids);
      ids.push(...this.plainIds(messages[Number(m[1])].content ?? '', mode));
      rest = rest.slice(m.index + m[0].length);
    }
    if (rest) ids.push(...this.full.encode(rest).ids);
    return ids;
  }
}

export async function openTokenOracle(packageDir: string): Promise<TokenOracle> {
  const manifest = await readLocalManifest(packageDir);
  const read = async (file: string) =>
    JSON.parse(await readFile(join(packageDir, file), 'utf8')) as Record<string, unknown>;
  return new TokenOracle(
    await read(manifest.tokenizer.file),
    await read(manifest.tokenizer.config_file),
  );
}
