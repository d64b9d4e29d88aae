/**
 * Text ↔ ids for a model package: the package's tokenizer.json (@huggingface/tokenizers, pure JS, runs in
 * workerd) and the chat template from tokenizer_config.json (@huggingface/jinja). Callers' text (message
 * contents, completion prompts) goes through encodeChat / encodeText, where special tokens are ordinary text;
 * `encode` recognises every added token and is for trusted text only (training data, CLIs).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { PromptEncoder, PromptTooLongError, type EncodeLimits } from './prompt-encoding.ts';
import { Placeholders } from './placeholders.ts';

/** A tool call as OpenAI's chat messages carry it (`arguments` is usually a JSON string). */
export interface ChatToolCall {
  id?: string;
  type?: string;
  function: { name: string; arguments: string | Record<string, unknown> };
}

export interface ChatMessage {
  role: string;
  /** null (or absent) renders as empty text, as for an assistant turn that only calls tools. */
  content: string | null;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
}

export interface ChatTemplateOptions {
  /** Ends the text with the assistant's opening marker (default true). */
  addGenerationPrompt?: boolean;
  /** OpenAI function-tool objects, rendered by the template's tools block. */
  tools?: readonly object[];
}

/** Turns at either end whose markers the per-turn bound leaves out (they may fuse with the header or the end). */
const EDGE_TURNS = 4;

export class TemplateError extends Error {
  override name = 'TemplateError';
}

export class TextCodec {
  private readonly tokenizer: Tokenizer;
  private readonly template: Template | null;
  private readonly config: Record<string, unknown>;
  /** The parsed tokenizer.json (the grammar engine reads its vocabulary). */
  readonly tokenizerJson: object;
  private readonly prompts: PromptEncoder;

  constructor(tokenizerJson: object, tokenizerConfig: Record<string, unknown>) {
    this.config = tokenizerConfig;
    this.tokenizerJson = tokenizerJson;
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.prompts = new PromptEncoder(this.tokenizer, tokenizerConfig);
    const source = tokenizerConfig.chat_template;
    this.template = typeof source === 'string' ? new Template(source) : null;
  }

  /** Trusted text → ids, every added token recognised (role markers become control tokens). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text).ids;
  }

  /**
   * A caller's text → ids (a completion prompt): special tokens in it are ordinary text. Throws
   * PromptTooLongError past `maxTokens`, early and without tokenizing what cannot fit.
   */
  async encodeText(text: string, limits: EncodeLimits = {}): Promise<number[]> {
    return this.prompts.encode([{ text, untrusted: true }], limits);
  }

  /**
   * Messages rendered with the chat template → ids: the template's markers are control tokens, message contents
   * are text (a "<|role_end|>" typed in a message cannot close the turn). Throws TemplateError, PromptTooLongError.
   */
  async encodeChat(
    messages: ChatMessage[],
    { addGenerationPrompt = true, tools, ...limits }: EncodeLimits & ChatTemplateOptions = {},
  ): Promise<number[]> {
    // Rendering costs tens of µs per message: a prompt that cannot fit by its role markers alone is refused first.
    const markers = this.markerTokensAtLeast(messages);
    if (limits.maxTokens !== undefined && markers > limits.maxTokens)
      throw new PromptTooLongError(markers, limits.maxTokens);
    const placeholders = new Placeholders();
    const marked = messages.map((m) => ({
      ...m,
      content: m.content === null ? null : placeholders.wrap(m.content),
    }));
    const template = { addGenerationPrompt, tools };
    const segments = placeholders.segments(this.applyChatTemplate(marked, template));
    // Sized before the check below, which renders the contents again and compares the whole text.
    this.prompts.refuseTooLong(segments, limits);
    const rendered = segments.map((s) => s.text).join('');
    // A template that transforms contents (trims, splits) cannot be separated into markup and text safely.
    if (rendered !== this.applyChatTemplate(messages, template))
      throw new TemplateError(
        'this chat template transforms message contents; it is not supported',
      );
    return this.prompts.encode(segments, limits);
  }

  /** UTF-8 bytes of the longest token: text of B bytes has at least B / maxTokenBytes tokens. */
  get maxTokenBytes(): number {
    return this.prompts.maxTokenBytes;
  }

  /** Decodes ids; special tokens (EOS, role markers) are skipped by default, as chat output wants. */
  decode(ids: ArrayLike<number>, { skipSpecialTokens = true } = {}): string {
    // The tokenizer refuses an empty list; no tokens is no text (e.g. before or after a kept `<tool_call>`).
    if (ids.length === 0) return '';
    return this.tokenizer.decode(Array.from(ids), { skip_special_tokens: skipSpecialTokens });
  }

  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  /**
   * Renders messages with the package's chat template (no BOS is added: LLaDA2's template has none). `tools`
   * are passed to the template as its `tools` variable; without them the tools block is left out.
   */
  applyChatTemplate(
    messages: ChatMessage[],
    { addGenerationPrompt = true, tools }: ChatTemplateOptions = {},
  ): string {
    if (!this.template) throw new TemplateError('this model package has no chat template');
    try {
      return this.template.render({
        messages,
        ...(tools && tools.length > 0 ? { tools } : {}),
        add_generation_prompt: addGenerationPrompt,
        bos_token: this.config.bos_token ?? '',
        eos_token: this.config.eos_token ?? '',
      });
    } catch (e: unknown) {
      throw new TemplateError(`chat template failed: ${(e as Error).message}`);
    }
  }

  /** The chat template renders a `tools` variable (it can offer functions to the model). */
  get templateRendersTools(): boolean {
    const source = this.config.chat_template;
    return typeof source === 'string' && /\btools\b/.test(source);
  }

  /**
   * The first special token (a role marker, EOS) spelled out in `text`, or null. Text the template renders as
   * markup (tool definitions, tool-call arguments) must not contain one.
   */
  specialTokenIn(text: string): string | null {
    this.specials ??= [...this.tokenizer.get_added_tokens_decoder().values()]
      .filter((t) => t.special)
      .map((t) => t.content);
    return this.specials.find((s) => text.includes(s)) ?? null;
  }

  private specials: string[] | undefined;

  /**
   * A lower bound of the tokens `messages` render to, without rendering them: the added tokens (role markers) the
   * template writes per user or assistant turn, times those turns less a few at the ends (where a marker may fuse
   * with the header or the generation prompt). Added tokens never merge with a message's text, so whatever the
   * contents are, each is a token of its own.
   */
  markerTokensAtLeast(messages: readonly ChatMessage[]): number {
    this.markersPerTurn ??= this.probeMarkersPerTurn();
    let turns = 0;
    for (const m of messages) if (m.role === 'user' || m.role === 'assistant') turns++;
    return this.markersPerTurn * Math.max(0, turns - EDGE_TURNS);
  }

  private markersPerTurn: number | undefined;

  /**
   * Added tokens per turn in long runs of turns (alternating, all user, all assistant; empty and non-empty
   * contents), the least of them: a tokenizer may fuse neighbouring markers into one added token, so the rate is
   * measured over many turns rather than assumed. 0 when the template has none or fails on a probe.
   */
  private probeMarkersPerTurn(): number {
    if (!this.template) return 0;
    const added = new Set(this.tokenizer.get_added_tokens_decoder().keys());
    const count = (roles: (i: number) => string, n: number, content: string) => {
      const messages = Array.from({ length: n }, (_, i) => ({ role: roles(i), content }));
      const text = this.applyChatTemplate(messages, { addGenerationPrompt: true });
      return this.encode(text).filter((id) => added.has(id)).length;
    };
    const patterns = [
      (i: number) => (i % 2 ? 'assistant' : 'user'),
      () => 'user',
      () => 'assistant',
    ];
    let least = Infinity;
    try {
      for (const roles of patterns)
        for (const content of ['', 'x']) {
          const rate = (count(roles, 24, content) - count(roles, 8, content)) / 16;
          least = Math.min(least, Math.floor(rate));
        }
    } catch {
      return 0;
    }
    return Math.max(0, least);
  }

  /**
   * Decodes like `decode`, but these tokens stay in the text even where the tokenizer marks them special (a
   * tokenizer may make `<tool_call>` a special token; the tool-call parser must still see it).
   */
  decodeKeeping(ids: ArrayLike<number>, keep: readonly string[]): string {
    const kept = new Map<number, string>();
    for (const text of keep) {
      const id = this.tokenizer.token_to_id(text);
      if (id !== undefined) kept.set(id, text);
    }
    if (kept.size === 0) return this.decode(ids);
    let out = '';
    let run: number[] = [];
    for (const id of Array.from(ids)) {
      const text = kept.get(id);
      if (text === undefined) run.push(id);
      else {
        out += this.decode(run) + text;
        run = [];
      }
    }
    return out + this.decode(run);
  }
}
