/** Chat and legacy completions differ only in their response and chunk shapes. */

export interface Flavor {
  idPrefix: string;
  object: string;
  chunkObject: string;
  choice(index: number, text: string, finish: string): Record<string, unknown>;
  chunkChoice(
    index: number,
    delta: string | null,
    finish: string | null,
    first: boolean,
  ): Record<string, unknown>;
}

export const CHAT: Flavor = {
  idPrefix: 'chatcmpl-',
  object: 'chat.completion',
  chunkObject: 'chat.completion.chunk',
  choice: (index, text, finish) => ({
    index,
    message: { role: 'assistant', content: text },
    logprobs: null,
    finish_reason: finish,
  }),
  chunkChoice: (index, delta, finish, first) => ({
    index,
    delta: first ? { role: 'assistant', content: '' } : delta === null ? {} : { content: delta },
    logprobs: null,
    finish_reason: finish,
  }),
};

export const COMPLETION: Flavor = {
  idPrefix: 'cmpl-',
  object: 'text_completion',
  chunkObject: 'text_completion',
  choice: (index, text, finish) => ({ index, text, logprobs: null, finish_reason: finish }),
  chunkChoice: (index, delta, finish) => ({
    index,
    text: delta ?? '',
    logprobs: null,
    finish_reason: finish,
  }),
};
