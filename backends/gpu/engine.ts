/**
 * The HTTP thread's handle on the inference worker: starts it, waits for the model to be loaded and warmed, and
 * turns each sequence's worker messages back into an async stream of DecodeEvents.
 */
import { Worker } from 'node:worker_threads';
import type { DecodeEvent } from '../../src/decode/index.ts';
import type { ForwardStats } from './batch/scheduler.ts';
import type {
  FromWorker,
  ReadyMessage,
  ToWorker,
  WireDecodeOptions,
  WireError,
  WorkerConfig,
} from './inference/messages.ts';

/** A sequence failed inside the worker, or the worker died under it. */
export class InferenceError extends Error {
  override name = 'InferenceError';
  constructor(readonly wire: WireError) {
    super(wire.message);
  }
}

export interface EngineOptions {
  log?: (line: string) => void;
  onForward?: (stats: ForwardStats) => void;
  /** The worker exited or crashed after start; every open sequence has failed. */
  onExit?: (reason: string) => void;
}

/**
 * Worker threads do not inherit tsx's loader hooks (Node 20), so a .ts entry is started through a one-line
 * bootstrap that registers tsx in the worker first; a compiled .js entry starts directly.
 */
function spawnWorker(entry: URL, workerData: unknown): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData });
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(code, { eval: true, workerData });
}

/** A small push → pull queue: the worker pushes events, the HTTP response pulls them. */
class EventChannel implements AsyncIterable<DecodeEvent> {
  private items: DecodeEvent[] = [];
  private ended = false;
  private error: InferenceError | null = null;
  private wake: (() => void) | null = null;

  push(ev: DecodeEvent): void {
    this.items.push(ev);
    this.notify();
  }

  end(error?: WireError): void {
    this.ended = true;
    if (error) this.error = new InferenceError(error);
    this.notify();
  }

  private notify(): void {
    this.wake?.();
    this.wake = null;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<DecodeEvent> {
    for (;;) {
      while (this.items.length > 0) yield this.items.shift()!;
      if (this.ended) break;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.error) throw this.error;
  }
}

export class InferenceEngine {
  private readonly channels = new Map<number, EventChannel>();
  private nextId = 1;
  private alive = true;
  /** Set by terminate(): events are dropped and every sequence's end becomes this error. */
  private stopping: WireError | null = null;
  private idle: (() => void) | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly model: ReadyMessage,
  ) {}

  /** Starts the worker; resolves once the model is loaded and warmed, rejects if loading fails. */
  static start(
    config: WorkerConfig,
    { log = () => {}, onForward = () => {}, onExit = () => {} }: EngineOptions = {},
  ): Promise<InferenceEngine> {
    const worker = spawnWorker(new URL('./inference/inference-thread.ts', import.meta.url), config);
    return new Promise((resolve, reject) => {
      let engine: InferenceEngine | null = null;
      const died = (reason: string) => {
        if (!engine) return reject(new Error(reason));
        engine.failAll(reason);
        onExit(reason);
      };
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            engine = new InferenceEngine(worker, m);
            resolve(engine);
            break;
          case 'log':
            log(m.line);
            break;
          case 'fatal':
            void worker.terminate();
            died(`inference worker failed: ${m.message}`);
            break;
          case 'forward':
            onForward(m.stats);
            break;
          case 'event':
            if (!engine?.stopping) engine?.channels.get(m.id)?.push(m.event);
            break;
          case 'end':
            engine?.channels.get(m.id)?.end(engine.stopping ?? m.error);
            engine?.channels.delete(m.id);
            if (engine?.channels.size === 0) engine.idle?.();
            break;
        }
      });
      worker.on('error', (e) => died(`inference worker crashed: ${e.message}`));
      worker.on('exit', (code) => {
        if (engine?.alive) died(`inference worker exited (code ${code})`);
      });
    });
  }

  /** Sequences the worker is running. */
  get active(): number {
    return this.channels.size;
  }

  /**
   * Runs one sequence in the worker's batch. Options must already be validated (planDecode). When `signal` fires,
   * the sequence leaves the batch before its next forward and the stream ends (usually with an 'aborted' done).
   */
  generate(
    promptIds: number[],
    options: WireDecodeOptions,
    signal?: AbortSignal,
  ): AsyncIterable<DecodeEvent> {
    const id = this.nextId++;
    const channel = new EventChannel();
    if (!this.alive) {
      channel.end({
        message: 'the inference worker is not running',
        type: 'server_error',
        code: 'worker_down',
      });
      return channel;
    }
    this.channels.set(id, channel);
    this.send({ type: 'start', id, promptIds, options });
    if (signal) {
      const cancel = () => this.channels.has(id) && this.send({ type: 'cancel', id });
      if (signal.aborted) cancel();
      else signal.addEventListener('abort', cancel, { once: true });
    }
    return channel;
  }

  /**
   * Stops the worker. Open sequences are cancelled first and their streams end with an error; the thread is only
   * terminated once they have left (or after `graceMs`), because terminating it inside an ORT run aborts the process.
   */
  async terminate(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.alive = false;
    this.stopping = {
      message: 'the server is shutting down',
      type: 'server_error',
      code: 'shutting_down',
    };
    if (this.channels.size > 0) {
      const idle = new Promise<void>((resolve) => (this.idle = resolve));
      for (const id of this.channels.keys()) this.send({ type: 'cancel', id });
      await Promise.race([idle, new Promise((r) => setTimeout(r, graceMs))]);
    }
    this.failAll(this.stopping.message);
    await this.worker.terminate();
  }

  private send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private failAll(message: string): void {
    this.alive = false;
    for (const c of this.channels.values())
      c.end({ message, type: 'server_error', code: 'worker_down' });
    this.channels.clear();
  }
}
