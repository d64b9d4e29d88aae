/**
 * Text ↔ ids for a model package: the package's tokenizer.json (@huggingface/tokenizers, pure JS, runs in
 * workerd) and the chat template from tokenizer_config.json (@huggingface/jinja).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';

export interface ChatMessage {
  role: string;
  content: string;
}

export class TemplateError extends Error {
  override name = 'TemplateError';
}

export class TextCodec {
  private readonly tokenizer: Tokenizer;
  private readonly template: Template | null;
  private readonly config: Record<string, unknown>;
  /** The parsed tokenizer.json (the grammar engine reads its vocabulary). */
  readonly tokenizerJson: object;

  constructor(tokenizerJson: object, tokenizerConfig: Record<string, unknown>) {
    this.config = tokenizerConfig;
    this.tokenizerJson = tokenizerJson;
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    const source = tokenizerConfig.chat_template;
    this.template = typeof source === 'string' ? new Template(source) : null;
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text).ids;
  }

  /** Decodes ids; special tokens (EOS, role markers) are skipped by default, as chat output wants. */
  decode(ids: ArrayLike<number>, { skipSpecialTokens = true } = {}): string {
    return this.tokenizer.decode(Array.from(ids), { skip_special_tokens: skipSpecialTokens });
  }

  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  /** Renders messages with the package's chat template (no BOS is added: LLaDA2's template has none). */
  applyChatTemplate(messages: ChatMessage[], { addGenerationPrompt = true } = {}): string {
    if (!this.template) throw new TemplateError('this model package has no chat template');
    try {
      return this.template.render({
        messages,
        add_generation_prompt: addGenerationPrompt,
        bos_token: this.config.bos_token ?? '',
        eos_token: this.config.eos_token ?? '',
      });
    } catch (e: unknown) {
      throw new TemplateError(`chat template failed: ${(e as Error).message}`);
    }
  }
}
