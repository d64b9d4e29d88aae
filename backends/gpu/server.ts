/**
 * The GPU container server: listens at once (health says "loading"), loads and warms the model in an inference
 * worker thread, then serves the internal pool API with continuous batching and admission control. drain()
 * refuses new work, lets every admitted request finish, and closes.
 */
import { listen } from '../node/listen.ts';
import { AdmissionQueue } from './admission-queue.ts';
import { InferenceEngine } from './engine.ts';
import { createPoolApp, type PoolState, type PoolStatus } from './http/app.ts';
import type { Provider } from '../node/open-model.ts';
import { PoolMetrics } from './metrics/pool-metrics.ts';
import type { ModelDescription } from '../../src/dispatch/pool/protocol.ts';

export interface GpuServerOptions {
  /** Package directory or s3://bucket/prefix. */
  model: string;
  /** GPU_POOL_SECRET. */
  secret: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** Default 0.0.0.0. */
  host?: string;
  /** Execution providers in order of preference; CPU is always the fallback. Default ['cuda', 'cpu']. */
  providers?: Provider[];
  /** CUDA device (default 0). */
  deviceId?: number;
  /** CPU provider intra-op threads (default: ORT's). */
  threads?: number;
  /** Sequences decoding at once: the batch (default 32). */
  maxBatch?: number;
  /** Requests waiting for a batch slot before 503 (default 256). */
  maxQueue?: number;
  /** Mix seq lengths within this ratio in one forward (BatchSchedulerOptions.padSeqRatio; default 1 on CPU, 2 on GPU). */
  padSeqRatio?: number;
  /** MiB of prompt K/V kept for prefix reuse across requests, in host memory (default 1024; 0 = off). */
  prefixCacheMb?: number;
  /** The model id clients send (default: the package's manifest name). */
  modelId?: string;
  /** drain() gives up waiting after this long and cuts the remaining streams (default 10 min). */
  drainTimeoutMs?: number;
  log?: (line: string) => void;
  /** The inference worker died after start-up (the process should exit and be restarted). */
  onFatal?: (reason: string) => void;
}

export interface GpuServer {
  readonly url: string;
  readonly port: number;
  /** Resolves once the model is loaded and warmed; rejects when loading fails. */
  readonly ready: Promise<void>;
  /** Stops accepting (503), waits for admitted requests to finish, then closes. */
  drain(): Promise<void>;
  /** Closes at once: open streams end with an error event. */
  close(): Promise<void>;
}

class ServerState implements PoolState {
  status: PoolStatus = 'loading';
  engine: InferenceEngine | null = null;
  model: ModelDescription | null = null;
  constructor(
    readonly admission: AdmissionQueue,
    readonly metrics: PoolMetrics,
  ) {}
}

/**
 * @example const server = await startGpuServer({ model: 's3://models/llada2-mini', secret, providers: ['cuda'] });
 * await server.ready;
 */
export async function startGpuServer({
  model,
  secret,
  port = 8000,
  host = '0.0.0.0',
  providers = ['cuda', 'cpu'],
  deviceId = 0,
  threads,
  maxBatch = 32,
  maxQueue = 256,
  padSeqRatio,
  prefixCacheMb = 1024,
  modelId,
  drainTimeoutMs = 600_000,
  log = () => {},
  onFatal = () => {},
}: GpuServerOptions): Promise<GpuServer> {
  if (!secret) throw new Error('a pool secret is required');
  if (padSeqRatio !== undefined && !(padSeqRatio >= 1))
    throw new Error(`padSeqRatio must be >= 1, got ${padSeqRatio}`);
  if (!(prefixCacheMb >= 0)) throw new Error(`prefixCacheMb must be >= 0, got ${prefixCacheMb}`);
  const state = new ServerState(
    new AdmissionQueue({ maxRunning: maxBatch, maxWaiting: maxQueue }),
    new PoolMetrics(),
  );
  const app = createPoolApp({ secret, state });
  const { server, port: bound } = await listen(app.fetch, port, host);
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`;
  log(`listening on ${url} (loading ${model})`);

  const ready = (async () => {
    const t0 = performance.now();
    try {
      const engine = await InferenceEngine.start(
        { location: model, providers, deviceId, threads, maxBatch, padSeqRatio, prefixCacheMb },
        {
          log,
          onForward: (s) => state.metrics.onForward(s),
          onExit: (reason) => {
            state.status = 'failed';
            log(reason);
            onFatal(reason);
          },
        },
      );
      const m = engine.model;
      const id = modelId ?? m.modelName;
      state.model = {
        id,
        info: m.info,
        tokenizer: JSON.parse(m.tokenizer),
        tokenizer_config: JSON.parse(m.tokenizerConfig),
      };
      state.metrics.setModel(
        id,
        m.provider,
        () => state.admission.numRunning,
        () => state.admission.numWaiting,
      );
      state.engine = engine;
      if (state.status === 'loading') state.status = 'ready';
      log(
        `ready: model "${id}" on ${m.provider} (fetch ${m.fetchMs.toFixed(0)} ms, session ${m.sessionMs.toFixed(0)} ms, warm-up ${m.warmMs.toFixed(0)} ms, total ${(performance.now() - t0).toFixed(0)} ms)`,
      );
    } catch (e: unknown) {
      state.status = 'failed';
      throw e;
    }
  })();
  ready.catch(() => {}); // the caller decides; health already says "failed"

  /** Stops the worker (a stream still open ends with an error event), then the listener, letting responses flush. */
  async function shutdown(): Promise<void> {
    await state.engine?.terminate();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const cut = setTimeout(() => server.closeAllConnections(), 2000);
    await closed;
    clearTimeout(cut);
  }

  async function drain(): Promise<void> {
    if (state.status !== 'failed') state.status = 'draining';
    const { admission } = state;
    const deadline = performance.now() + drainTimeoutMs;
    log(`draining: ${admission.numRunning} running, ${admission.numWaiting} waiting`);
    while (admission.numRunning + admission.numWaiting > 0 && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    if (admission.numRunning + admission.numWaiting > 0)
      log(
        `drain timed out after ${drainTimeoutMs} ms; cutting ${admission.numRunning + admission.numWaiting} requests`,
      );
    await shutdown();
    log('drained');
  }

  return { url, port: bound, ready, drain, close: shutdown };
}
