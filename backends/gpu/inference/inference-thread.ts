/**
 * The inference worker thread: owns the ORT session (whose run() blocks its thread, not the HTTP one), warms it,
 * and runs every admitted sequence's decode() through one BatchScheduler so concurrent sequences share forwards.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PrefixCache, decode } from '../../../src/decode/index.ts';
import type { BlockRunner } from '../../../src/decode/runner.ts';
import { BatchScheduler } from '../batch/scheduler.ts';
import { openModel } from '../../node/open-model.ts';
import type {
  FromWorker,
  ToWorker,
  WireDecodeOptions,
  WireError,
  WorkerConfig,
} from './messages.ts';

const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
const sequences = new Map<number, AbortController>();

/** One forward over a single masked block: compiles kernels and allocates arenas before /health says ready. */
async function warm(runner: BlockRunner): Promise<number> {
  const t0 = performance.now();
  const B = runner.info.blockLength;
  await runner.forward({
    batch: 1,
    seq: B,
    ids: new Int32Array(B).fill(runner.info.maskId),
    positions: Int32Array.from({ length: B }, (_, i) => i),
    visibility: new Uint8Array(B * B).fill(1),
    past: null,
    wantLogits: false,
    wantPresent: true,
  });
  return performance.now() - t0;
}

function wireError(e: unknown): WireError {
  return {
    message: e instanceof Error ? e.message : String(e),
    type: 'server_error',
    code: 'inference_failed',
  };
}

async function runSequence(
  scheduler: BatchScheduler,
  prefixCache: PrefixCache | undefined,
  id: number,
  promptIds: number[],
  options: WireDecodeOptions,
): Promise<void> {
  const ac = new AbortController();
  sequences.set(id, ac);
  try {
    for await (const event of decode(scheduler.runnerFor(ac.signal), promptIds, {
      ...options,
      signal: ac.signal,
      ...(prefixCache ? { prefixCache } : {}),
    })) {
      post({ type: 'event', id, event });
    }
    post({ type: 'end', id });
  } catch (e: unknown) {
    // A forward dropped from the queue after cancel ends the sequence quietly.
    post(ac.signal.aborted ? { type: 'end', id } : { type: 'end', id, error: wireError(e) });
  } finally {
    sequences.delete(id);
  }
}

async function main(config: WorkerConfig): Promise<void> {
  const log = (line: string) => post({ type: 'log', line });
  const model = await openModel(config.location, { ...config, log });
  const warmMs = await warm(model.runner);
  const { graph } = model.manifest;
  const scheduler = new BatchScheduler({
    runner: model.runner,
    geometry: { layers: graph.layers, kvHeads: graph.kv_heads, headDim: graph.head_dim },
    maxBatch: config.maxBatch,
    padSeqRatio: config.padSeqRatio ?? (model.provider === 'cpu' ? 1 : 2),
    onForward: (stats) => post({ type: 'forward', stats }),
  });
  // Sequences sharing a prompt prefix (a system prompt) skip its prefill; exact, see src/decode/prefix-cache.ts.
  const prefixCache =
    config.prefixCacheMb > 0
      ? new PrefixCache({ maxBytes: Math.floor(config.prefixCacheMb * 2 ** 20) })
      : undefined;
  port.on('message', (m: ToWorker) => {
    if (m.type === 'start') void runSequence(scheduler, prefixCache, m.id, m.promptIds, m.options);
    else sequences.get(m.id)?.abort();
  });
  const text = (path: string) => new TextDecoder().decode(model.files.get(path)!);
  post({
    type: 'ready',
    modelName: model.manifest.name,
    info: model.runner.info,
    provider: model.provider,
    tokenizer: text(model.manifest.tokenizer.file),
    tokenizerConfig: text(model.manifest.tokenizer.config_file),
    fetchMs: model.fetchMs,
    sessionMs: model.sessionMs,
    warmMs,
  });
  // The package bytes are in the session now; only the tokenizer text was still needed.
  model.files.clear();
}

main(workerData as WorkerConfig).catch((e: unknown) => {
  post({ type: 'fatal', message: e instanceof Error ? e.message : String(e) });
});
