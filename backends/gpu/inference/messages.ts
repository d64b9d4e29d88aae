/** Messages between the HTTP thread and the inference worker thread (structured-clone data only). */
import type { DecodeEvent } from '../../../src/decode/index.ts';
import type { RunnerInfo } from '../../../src/decode/runner.ts';
import type { ForwardStats } from '../batch/scheduler.ts';
import type { Provider } from '../../node/open-model.ts';
import type { ExecutionProvider } from '../../../src/ort/session-options.ts';

export interface WorkerConfig {
  location: string;
  providers: Provider[];
  deviceId: number;
  threads?: number;
  /** Sequences per batched forward at most. */
  maxBatch: number;
  /** BatchSchedulerOptions.padSeqRatio; undefined: 1 on the CPU provider, 2 on a GPU one. */
  padSeqRatio?: number;
  /** MiB of prompt K/V the prefix cache keeps across sequences (0: off). */
  prefixCacheMb: number;
}

/** The pool protocol's options (the worker owns a signal per sequence). */
export type { WireDecodeOptions } from '../../../src/dispatch/pool/protocol.ts';
import type { WireDecodeOptions } from '../../../src/dispatch/pool/protocol.ts';

export type ToWorker =
  | { type: 'start'; id: number; promptIds: number[]; options: WireDecodeOptions }
  | { type: 'cancel'; id: number };

export interface WireError {
  message: string;
  type: string;
  code: string | null;
  param?: string | null;
}

export interface ReadyMessage {
  type: 'ready';
  modelName: string;
  info: RunnerInfo;
  provider: ExecutionProvider;
  /** tokenizer.json and tokenizer_config.json as text. */
  tokenizer: string;
  tokenizerConfig: string;
  fetchMs: number;
  sessionMs: number;
  warmMs: number;
}

export type FromWorker =
  | ReadyMessage
  | { type: 'log'; line: string }
  | { type: 'fatal'; message: string }
  | { type: 'event'; id: number; event: DecodeEvent }
  /** Always the last message of a sequence; `error` when it failed. */
  | { type: 'end'; id: number; error?: WireError }
  | { type: 'forward'; stats: ForwardStats };
