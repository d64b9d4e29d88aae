/**
 * The playground's knobs, and the two forms they take: the API request body (server mode) and the DecodeOptions
 * the browser runs (browser mode). Both must ask for the same generation; settings.test.ts checks the mapping
 * against the API's own (src/api/protocol/decode-fields.ts).
 */
import type { DecodeOptions } from '../decode/index.ts';

export interface Knobs {
  model: string;
  /** Confidence a masked position needs to be committed, (0, 1]. */
  threshold: number;
  /** null: the model's block length. */
  blockLength: number | null;
  /** null: the default (32). */
  steps: number | null;
  strategy: string;
  /** 0 = greedy. */
  temperature: number;
  /** null: random (only used when temperature > 0). */
  seed: number | null;
  maxTokens: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
}

export const DEFAULT_KNOBS: Omit<Knobs, 'model'> = {
  threshold: 0.9,
  blockLength: null,
  steps: null,
  strategy: 'low_confidence',
  temperature: 0,
  seed: null,
  maxTokens: 32,
};

export const STRATEGIES = ['low_confidence', 'hierarchy', 'factor', 'entropy_threshold'] as const;

/** The chat request the server runs (streamed with denoising frames when `stream`). */
export function requestBody(
  knobs: Knobs,
  messages: ChatMessage[],
  { stream, tools }: { stream: boolean; tools?: readonly object[] },
): Record<string, unknown> {
  return {
    model: knobs.model,
    messages,
    ...(tools?.length ? { tools } : {}),
    max_tokens: knobs.maxTokens,
    threshold: knobs.threshold,
    strategy: knobs.strategy,
    temperature: knobs.temperature,
    ...(knobs.blockLength !== null ? { block_length: knobs.blockLength } : {}),
    ...(knobs.steps !== null ? { steps: knobs.steps } : {}),
    ...(knobs.seed !== null ? { seed: knobs.seed } : {}),
    ...(stream
      ? { stream: true, stream_options: { include_usage: true, include_denoising: true } }
      : {}),
  };
}

/** What the server's prepareOptions makes of that request: the options the browser's decode loop gets. */
export function decodeOptions(knobs: Knobs): DecodeOptions {
  return {
    temperature: knobs.temperature,
    threshold: knobs.threshold,
    algorithm: knobs.strategy,
    ...(knobs.blockLength !== null ? { blockLength: knobs.blockLength } : {}),
    ...(knobs.steps !== null ? { steps: knobs.steps } : {}),
    ...(knobs.seed !== null ? { seed: knobs.seed } : {}),
    maxTokens: knobs.maxTokens,
  };
}
