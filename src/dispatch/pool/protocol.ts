/**
 * The GPU pool's internal HTTP API (a contract between backends/gpu/server.ts and the Worker's pool client,
 * src/dispatch/pool/index.ts). Web-standard types only: the client runs in workerd.
 *
 *   POST /internal/v1/generate   Authorization: Bearer <GPU_POOL_SECRET>
 *        body GenerateRequest → 200 text/event-stream of `data: <PoolEvent JSON>\n\n` frames, ending with a
 *        `done` or `error` event; 400/401 JSON error envelope before the stream; 503 + Retry-After when the
 *        admission queue is full or the model is not ready.
 *   GET  /internal/v1/model      Authorization: Bearer … → ModelDescription (tokenizer travels once per client).
 *   GET  /health                 200 {"status":"ready"} once the model is loaded and warmed, else 503.
 *   GET  /metrics                Prometheus text, vLLM-compatible names (vllm: prefix).
 */
import { z } from 'zod';
import type { DecodeOptions, DecodeResult, StepEvent, TokenLogprob } from '../../decode/index.ts';
import type { RunnerInfo } from '../../decode/runner.ts';

export const GENERATE_PATH = '/internal/v1/generate';
export const MODEL_PATH = '/internal/v1/model';

/**
 * The decode loop's own options, sent unchanged (both ends are Unmask; no second vocabulary). maxTokens is
 * required: the Worker decides it.
 */
export type WireDecodeOptions = Omit<DecodeOptions, 'signal' | 'prefixCache' | 'constraint'> & {
  maxTokens: number;
};

export interface GenerateRequest {
  model: string;
  prompt_ids: number[];
  options: WireDecodeOptions;
  /** Stream per-step denoising snapshots too. */
  denoise?: boolean;
}

/** The shape of a GenerateRequest (types only: the values are validated by planDecode, which names the option). */
export const generateRequestSchema = z.strictObject({
  model: z.string(),
  prompt_ids: z.array(z.number().int()),
  options: z.strictObject({
    maxTokens: z.number().int(),
    blockLength: z.number().int().optional(),
    steps: z.number().int().optional(),
    threshold: z.number().optional(),
    minimalTopk: z.number().int().optional(),
    temperature: z.number().optional(),
    topK: z.number().int().optional(),
    topP: z.number().optional(),
    seed: z.number().int().optional(),
    eosEarlyStop: z.boolean().optional(),
    mode: z.enum(['reference', 'cached']).optional(),
    algorithm: z.string().optional(),
    algorithmParams: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
    logprobs: z.number().int().optional(),
  }),
  denoise: z.boolean().optional(),
}) satisfies z.ZodType<GenerateRequest>;

/**
 * DecodeOptions → the wire's options (what a signal, a cache or a grammar object cannot cross; the pool client
 * refuses grammars before calling this).
 */
export function wireOptions({
  signal: _signal,
  prefixCache: _cache,
  constraint: _constraint,
  ...rest
}: DecodeOptions): WireDecodeOptions {
  if (rest.maxTokens === undefined)
    throw new RangeError('maxTokens is required for a pool request');
  return { ...rest, maxTokens: rest.maxTokens };
}

export type PoolEvent =
  | { type: 'block'; block: number; offset: number; tokens: number[]; logprobs?: TokenLogprob[] }
  | (Omit<StepEvent, 'type'> & { type: 'step' })
  | { type: 'done'; result: DecodeResult }
  | {
      type: 'error';
      error: { message: string; type: string; code: string | null; param?: string | null };
    };

export interface ModelDescription {
  id: string;
  info: RunnerInfo;
  /** The package's tokenizer.json and tokenizer_config.json, parsed. */
  tokenizer: object;
  tokenizer_config: Record<string, unknown>;
}
