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
import type { DecodeResult, StepEvent } from '../../decode/index.ts';
import type { RunnerInfo } from '../../decode/runner.ts';

export const GENERATE_PATH = '/internal/v1/generate';
export const MODEL_PATH = '/internal/v1/model';

export interface GenerateRequest {
  model: string;
  prompt_ids: number[];
  options: {
    max_tokens: number;
    block_length?: number;
    steps?: number;
    threshold?: number;
    temperature?: number;
    top_k?: number;
    top_p?: number;
    seed?: number;
    eos_early_stop?: boolean;
    strategy?: string;
  };
  /** Stream per-step denoising snapshots too. */
  denoise?: boolean;
}

export type PoolEvent =
  | { type: 'block'; block: number; offset: number; tokens: number[] }
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
