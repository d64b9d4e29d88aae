/**
 * The serving half of the rehearsal, run in its own process: open the published package from s3:// through
 * the disk cache (phase `load`), then decode greedily with the K/V cache and check the first block against the
 * no-cache reference (phase `generate`). Every forward's outputs are checked to be finite.
 */
import { generate, type BlockRunner, type DecodeStats } from '../../../src/decode/index.ts';
import type { ForwardInput, ForwardOutput } from '../../../src/decode/runner.ts';
import { OrtKvState } from '../../../src/ort/session-runner.ts';
import { openModel, type Provider } from '../open-model.ts';
import { markPhase } from './rss-report.ts';

export interface ServeStageOptions {
  /** s3://bucket/prefix (or a package directory). */
  model: string;
  promptIds: number[];
  /** Tokens to generate with the cache (64). */
  genLength: number;
  blockLength: number;
  /** onnxruntime-node providers in order (default ['cpu']). */
  providers?: Provider[];
  threads?: number;
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
}

export interface ServeStageResult {
  provider: string;
  fetchMs: number;
  sessionMs: number;
  tokens: number[];
  referenceTokens: number[];
  cachedEqualsReference: boolean;
  /** Every forward's top-k logits and probabilities, and every K/V, were finite. */
  finite: boolean;
  /** Mean and median ms of the cached run's block forwards (seq = blockLength). */
  msPerBlock: number;
  medianMsPerBlock: number;
  tokensPerS: number;
  cachedStats: DecodeStats;
  referenceStats: DecodeStats;
}

/** A runner that times every forward and checks its outputs are finite. */
class CheckedRunner implements BlockRunner {
  readonly times: { seq: number; ms: number }[] = [];
  finite = true;
  constructor(private readonly inner: BlockRunner) {}
  get info() {
    return this.inner.info;
  }
  async forward(input: ForwardInput): Promise<ForwardOutput> {
    const t0 = performance.now();
    const out = await this.inner.forward(input);
    this.times.push({ seq: input.seq, ms: performance.now() - t0 });
    const arrays: Float32Array[] = [out.topk.logits, out.topk.probs];
    if (out.present instanceof OrtKvState) arrays.push(...out.present.keys, ...out.present.values);
    for (const a of arrays)
      for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) this.finite = false;
    return out;
  }
  truncate(state: Parameters<BlockRunner['truncate']>[0], length: number) {
    return this.inner.truncate(state, length);
  }
}

export async function serveStage(o: ServeStageOptions): Promise<ServeStageResult> {
  const log = o.log ?? (() => {});
  markPhase('load');
  const model = await openModel(o.model, {
    env: o.env,
    providers: o.providers ?? ['cpu'],
    threads: o.threads,
    log,
    onProgress: progressEvery(10_000, (done, total) =>
      log(`load ${((100 * done) / total).toFixed(0)}% (${done}/${total} bytes)`),
    ),
  });
  log(
    `load: ${(model.fetchMs / 1000).toFixed(1)} s fetch+verify, ${(model.sessionMs / 1000).toFixed(1)} s session`,
  );
  markPhase('generate');
  const runner = new CheckedRunner(model.runner);
  const greedy = { blockLength: o.blockLength, temperature: 0 };
  const t0 = performance.now();
  const cached = await generate(runner, o.promptIds, {
    ...greedy,
    maxTokens: o.genLength,
    mode: 'cached',
  });
  const cachedMs = performance.now() - t0;
  const blockTimes = runner.times.filter((t) => t.seq === o.blockLength).map((t) => t.ms);
  log(
    `generate: ${cached.tokens.length} tokens in ${(cachedMs / 1000).toFixed(1)} s, ${cached.stats.forwards} forwards`,
  );
  const reference = await generate(runner, o.promptIds, {
    ...greedy,
    maxTokens: o.blockLength,
    mode: 'reference',
  });
  log(`reference: first block in ${(reference.stats.totalMs / 1000).toFixed(1)} s`);
  const first = cached.tokens.slice(0, o.blockLength);
  await model.close();
  return {
    provider: model.provider,
    fetchMs: model.fetchMs,
    sessionMs: model.sessionMs,
    tokens: cached.tokens,
    referenceTokens: reference.tokens,
    cachedEqualsReference:
      first.length === reference.tokens.length && first.every((t, i) => t === reference.tokens[i]),
    finite: runner.finite,
    msPerBlock: blockTimes.reduce((s, x) => s + x, 0) / Math.max(1, blockTimes.length),
    medianMsPerBlock: median(blockTimes),
    tokensPerS: cached.tokens.length / (cachedMs / 1000),
    cachedStats: cached.stats,
    referenceStats: reference.stats,
  };
}

function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** At most one call per `ms`, plus the final one. */
function progressEvery(
  ms: number,
  fn: (done: number, total: number) => void,
): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done >= total || now - last >= ms) {
      last = now;
      fn(done, total);
    }
  };
}
