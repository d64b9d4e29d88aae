/**
 * Continuous batching by rounds. Each sequence runs its own decode() against a proxy BlockRunner whose forward()
 * only enqueues; a round takes every forward queued so far, groups them by `seq` (prefill, block step, fused
 * commit step; with `padSeqRatio` > 1, shorter seqs ride along padded), and runs each group as one padded batched
 * forward on the real runner. Sequences join and leave at any forward boundary: a sequence that is not waiting on
 * a forward simply is not in the round.
 */
import type {
  BlockRunner,
  ForwardInput,
  ForwardOutput,
  KvState,
} from '../../../src/decode/runner.ts';
import { packForwards, unpackForward, type KvGeometry } from './pack.ts';

/** One batched forward, for metrics. */
export interface ForwardStats {
  sequences: number;
  seq: number;
  /** Padded past length of the batch. */
  pastLength: number;
  /** Masked padding keys over all sequences. */
  paddedKeys: number;
  /** Dummy query rows over all sequences. */
  paddedQueries: number;
  ms: number;
}

export interface BatchSchedulerOptions {
  /** The real runner; it must accept batch > 1 with an OrtKvState past (SessionRunner does). */
  runner: BlockRunner;
  geometry: KvGeometry;
  /** Sequences per forward at most; a bigger group is split. Default: no limit. */
  maxBatch?: number;
  /**
   * A forward of seq S also carries forwards of seq >= S / padSeqRatio, padded with dummy query rows. 1 (default)
   * groups equal seqs only: right for compute-bound runners (CPU), where padding costs its FLOPs. 2 puts block steps
   * (B) and fused commit steps (2B) in one forward: right for latency-bound ones (GPU), where a forward costs
   * about the same whatever its batch.
   */
  padSeqRatio?: number;
  /** Called after every forward the scheduler runs. */
  onForward?: (stats: ForwardStats) => void;
}

interface Pending {
  input: ForwardInput;
  signal?: AbortSignal;
  resolve: (out: ForwardOutput) => void;
  reject: (e: unknown) => void;
}

export class BatchScheduler {
  private readonly runner: BlockRunner;
  private readonly geometry: KvGeometry;
  private readonly maxBatch: number;
  private readonly padSeqRatio: number;
  private readonly onForward: (stats: ForwardStats) => void;
  private queue: Pending[] = [];
  private scheduled = false;
  private running = false;

  constructor({
    runner,
    geometry,
    maxBatch = Infinity,
    padSeqRatio = 1,
    onForward = () => {},
  }: BatchSchedulerOptions) {
    if (!(maxBatch >= 1)) throw new Error(`maxBatch must be >= 1, got ${maxBatch}`);
    if (!(padSeqRatio >= 1)) throw new Error(`padSeqRatio must be >= 1, got ${padSeqRatio}`);
    this.padSeqRatio = padSeqRatio;
    this.runner = runner;
    this.geometry = geometry;
    this.maxBatch = maxBatch;
    this.onForward = onForward;
  }

  /** Forwards queued for the next round. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * A BlockRunner for one sequence. Its forwards wait for the next round; once `signal` has fired, a queued
   * forward is dropped (rejected with an AbortError) instead of run.
   */
  runnerFor(signal?: AbortSignal): BlockRunner {
    const { runner } = this;
    return {
      info: runner.info,
      truncate: (state: KvState, length: number) => runner.truncate(state, length),
      forward: (input: ForwardInput) =>
        new Promise<ForwardOutput>((resolve, reject) => {
          this.queue.push({ input, signal, resolve, reject });
          this.schedule();
        }),
    };
  }

  /**
   * The round starts on the next macrotask: every sequence whose forward just returned has then run its step
   * (microtasks only) and queued its next forward, so the whole batch moves together.
   */
  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => void this.round());
  }

  private async round(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    try {
      const taken = this.queue;
      this.queue = [];
      const live = taken.filter((p) => {
        if (!p.signal?.aborted) return true;
        p.reject(p.signal.reason ?? new DOMException('aborted', 'AbortError'));
        return false;
      });
      for (const group of this.group(live)) {
        for (let i = 0; i < group.length; i += this.maxBatch)
          await this.execute(group.slice(i, i + this.maxBatch));
      }
    } finally {
      this.running = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  /** Longest seq first; each group takes every forward within padSeqRatio of its longest. Queue order is kept. */
  private group(pending: Pending[]): Pending[][] {
    const groups: Pending[][] = [];
    let rest = pending;
    while (rest.length > 0) {
      const top = Math.max(...rest.map((p) => p.input.seq));
      const fits = (p: Pending) => p.input.seq * this.padSeqRatio >= top;
      groups.push(rest.filter(fits));
      rest = rest.filter((p) => !fits(p));
    }
    return groups;
  }

  private async execute(group: Pending[]): Promise<void> {
    const t0 = performance.now();
    try {
      const inputs = group.map((p) => p.input);
      let outs: ForwardOutput[];
      let pastLength = inputs[0].past?.length ?? 0;
      let paddedKeys = 0;
      let paddedQueries = 0;
      if (group.length === 1) {
        outs = [await this.runner.forward(inputs[0])];
      } else {
        const packed = packForwards(inputs, this.geometry);
        const out = await this.runner.forward(packed.input);
        outs = unpackForward(packed, inputs, out, this.geometry, this.runner.info.vocabSize);
        pastLength = packed.pastLength;
        paddedKeys = packed.paddedKeys;
        paddedQueries = packed.paddedQueries;
      }
      const seq = Math.max(...inputs.map((x) => x.seq));
      this.onForward({
        sequences: group.length,
        seq,
        pastLength,
        paddedKeys,
        paddedQueries,
        ms: performance.now() - t0,
      });
      group.forEach((p, i) => p.resolve(outs[i]));
    } catch (e: unknown) {
      for (const p of group) p.reject(e);
    }
  }
}
