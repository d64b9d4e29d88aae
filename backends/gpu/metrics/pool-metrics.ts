/**
 * The GPU server's metrics: vLLM's names and buckets (vllm: prefix, model_name label) for
 * requests, latencies and tokens, vLLM's diffusion counters, and unmask_* batching counters showing how many
 * sequences each forward carried.
 */
import type { ForwardStats } from '../batch/scheduler.ts';
import { Counter, Gauge, Histogram, Registry } from '../../node/metrics/prometheus.ts';

// vLLM v1 buckets (vllm/v1/metrics/loggers.py).
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
  160, 640, 2560,
];
const ITL_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];
const REQUEST_BUCKETS = [
  0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
];
const FORWARD_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export type RejectReason = 'queue_full' | 'not_ready' | 'draining';

export class PoolMetrics {
  readonly registry = new Registry();
  private m: Record<string, string> = {};
  private readonly r = this.registry;
  readonly running = this.r.register(
    new Gauge('vllm:num_requests_running', 'Requests in the decode batch.'),
  );
  readonly waiting = this.r.register(
    new Gauge('vllm:num_requests_waiting', 'Requests admitted and waiting for a batch slot.'),
  );
  readonly promptTokens = this.r.register(
    new Counter('vllm:prompt_tokens_total', 'Prompt tokens of requests that started decoding.'),
  );
  readonly generationTokens = this.r.register(
    new Counter('vllm:generation_tokens_total', 'Generated tokens returned.'),
  );
  readonly success = this.r.register(
    new Counter('vllm:request_success_total', 'Finished requests by finish reason.'),
  );
  readonly ttft = this.r.register(
    new Histogram(
      'vllm:time_to_first_token_seconds',
      'Request arrival to the first block with tokens.',
      TTFT_BUCKETS,
    ),
  );
  readonly itl = this.r.register(
    new Histogram('vllm:inter_token_latency_seconds', 'Gaps between streamed blocks.', ITL_BUCKETS),
  );
  readonly e2e = this.r.register(
    new Histogram(
      'vllm:e2e_request_latency_seconds',
      'Request arrival to its last event.',
      REQUEST_BUCKETS,
    ),
  );
  readonly queueTime = this.r.register(
    new Histogram(
      'vllm:request_queue_time_seconds',
      'Time waiting for a batch slot.',
      REQUEST_BUCKETS,
    ),
  );
  readonly denoisingSteps = this.r.register(
    new Counter(
      'vllm:diffusion_num_denoising_steps_total',
      'Denoising steps, summed over sequences.',
    ),
  );
  readonly committedTokens = this.r.register(
    new Counter(
      'vllm:diffusion_num_committed_tokens_total',
      'Positions committed by denoising steps.',
    ),
  );
  readonly forwards = this.r.register(
    new Counter(
      'unmask_batched_forwards_total',
      'Model forwards run (each may carry several sequences).',
    ),
  );
  readonly forwardSequences = this.r.register(
    new Counter(
      'unmask_forward_sequences_total',
      'Sequences carried by forwards (sum of batch sizes).',
    ),
  );
  readonly forwardTokens = this.r.register(
    new Counter(
      'unmask_forward_tokens_total',
      'Real query tokens fed to forwards (padding excluded).',
    ),
  );
  readonly paddedKeys = this.r.register(
    new Counter(
      'unmask_forward_padded_keys_total',
      'Masked padding key positions added to align past lengths.',
    ),
  );
  readonly paddedQueries = this.r.register(
    new Counter(
      'unmask_forward_padded_queries_total',
      'Dummy query rows added to align seq lengths.',
    ),
  );
  readonly forwardSeconds = this.r.register(
    new Histogram('unmask_forward_seconds', 'Wall time of one batched forward.', FORWARD_BUCKETS),
  );
  readonly aborted = this.r.register(
    new Counter('unmask_requests_aborted_total', 'Requests whose client went away before the end.'),
  );
  readonly rejected = this.r.register(
    new Counter('unmask_requests_rejected_total', 'Requests refused with 503.'),
  );
  readonly provider = this.r.register(
    new Gauge('unmask_execution_provider_info', 'The ORT execution provider in use (value 1).'),
  );

  constructor() {
    for (const c of [
      this.forwards,
      this.forwardSequences,
      this.forwardTokens,
      this.paddedKeys,
      this.paddedQueries,
      this.aborted,
    ])
      c.touch();
    for (const reason of ['queue_full', 'not_ready', 'draining']) this.rejected.touch({ reason });
  }

  /** The model_name label of the vllm: series; they appear (at 0) once the model is known. */
  get labels(): Record<string, string> {
    return this.m;
  }

  /** Called once the model is loaded: names it and starts the load gauges. */
  setModel(
    modelName: string,
    provider: string,
    running: () => number,
    waiting: () => number,
  ): void {
    this.m = { model_name: modelName };
    for (const c of [
      this.promptTokens,
      this.generationTokens,
      this.denoisingSteps,
      this.committedTokens,
    ])
      c.touch(this.m);
    for (const h of [this.ttft, this.itl, this.e2e, this.queueTime]) h.touch(this.m);
    this.running.set(this.m, running);
    this.waiting.set(this.m, waiting);
    this.provider.set({ provider }, () => 1);
  }

  onForward(s: ForwardStats): void {
    this.forwards.inc();
    this.forwardSequences.inc({}, s.sequences);
    this.forwardTokens.inc({}, s.sequences * s.seq - s.paddedQueries);
    this.paddedKeys.inc({}, s.paddedKeys);
    this.paddedQueries.inc({}, s.paddedQueries);
    this.forwardSeconds.observe({}, s.ms / 1000);
  }

  onStep(committed: number): void {
    this.denoisingSteps.inc(this.m);
    this.committedTokens.inc(this.m, committed);
  }

  onReject(reason: RejectReason): void {
    this.rejected.inc({ reason });
  }

  render(): string {
    return this.registry.render();
  }
}
