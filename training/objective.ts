/**
 * @module
 * The block-diffusion training objective (LLaDA2.0 / BD3-LM; docs/training.md §1), in the `[x_t ; x_0]` form.
 *
 * Each sequence is its canvas: prompt, target (answer, `<|role_end|>`, EOS) and EOS fill up to L, a multiple of
 * the block length B, with blocks counted from position 0 as in the decode loop. Per sequence t ~ U(0, 1]
 * (stratified over the batch), and each target position (EOS fill included) is masked with probability t.
 * The model sees two halves, both at their absolute positions:
 *   - noisy: x_t over [s, L), where s = B·floor(min P / B) (earlier blocks are pure prompt, identical in both
 *     halves, so they are left out of the noisy half);
 *   - clean: x_0 over [0, L − B) (no noisy block ever reads the last clean block).
 * A noisy block sees itself (both ways) and the clean blocks before it: exactly what a decode step of that
 * block sees. The clean half is block-causal. Loss: cross-entropy on masked positions × 1/t ÷ (L − P), summed
 * over positions and averaged over the batch.
 *
 * A step's examples are grouped by canvas length (buildStepBatches), one forward per group, so a few long
 * conversations do not stretch every short one; t stays stratified over the whole step.
 */
import type { Rng } from '../src/export/tiny/rng.ts';
import type { EncodedExample } from './examples.ts';
import type { ForwardBatch } from './model.ts';

export interface TrainBatch extends ForwardBatch {
  /** Canvas length L. */
  canvas: number;
  /** Start of the noisy half, s. */
  noisyStart: number;
  /** Noisy rows per sequence (L − s); logits are taken for rows [0, noisyRows). */
  noisyRows: number;
  /** int32 [batch × noisyRows]: the clean token at each noisy row. */
  targets: Int32Array;
  /** float32 [batch × noisyRows]: 1/(t·(L − P)) where masked, else 0. */
  weights: Float32Array;
  /** Masked positions in the batch. */
  maskedCount: number;
  /** Sequences of the whole step (the loss is averaged over these, across all its groups). */
  stepSequences: number;
}

export interface BatchOptions {
  blockLength: number;
  maskId: number;
  eosId: number;
}

/** Visibility of the `[noisy ; clean]` sequence (1 = query may attend key), shared by every sequence. */
export function trainingVisibility(
  noisyStart: number,
  canvas: number,
  blockLength: number,
): Uint8Array {
  const B = blockLength;
  const tn = canvas - noisyStart;
  const tc = canvas - B;
  const T = tn + tc;
  const vis = new Uint8Array(T * T);
  const block = (row: number) => Math.floor((row < tn ? noisyStart + row : row - tn) / B);
  for (let i = 0; i < T; i++) {
    const bi = block(i);
    for (let j = 0; j < T; j++) {
      const bj = block(j);
      const ok =
        i < tn
          ? j < tn
            ? bj === bi
            : bj < bi // noisy query: its own noisy block, earlier clean blocks
          : j >= tn && bj <= bi; // clean query: block-causal over the clean half
      vis[i * T + j] = ok ? 1 : 0;
    }
  }
  return vis;
}

/**
 * One forward's batch. `noise` gives each sequence's t (default: stratified over this batch with one draw);
 * `stepSequences` the sequences of the whole step the loss is averaged over (default: this batch's).
 */
export function buildBatch(
  examples: EncodedExample[],
  opts: BatchOptions,
  rng: Rng,
  noise?: number[],
  stepSequences?: number,
): TrainBatch {
  const { blockLength: B, maskId, eosId } = opts;
  const N = examples.length;
  if (N === 0) throw new Error('empty batch');
  const longest = Math.max(...examples.map((e) => e.prompt.length + e.target.length));
  const L = Math.ceil(longest / B) * B;
  const s = Math.floor(Math.min(...examples.map((e) => e.prompt.length)) / B) * B;
  const tn = L - s;
  const tc = L - B;
  const T = tn + tc;
  const ids = new Int32Array(N * T);
  const positions = new Int32Array(N * T);
  const targets = new Int32Array(N * tn);
  const weights = new Float32Array(N * tn);
  const ts = noise ?? stratified(N, rng.uniform());
  let maskedCount = 0;
  for (const [n, e] of examples.entries()) {
    const P = e.prompt.length;
    const canvas = new Int32Array(L).fill(eosId);
    canvas.set(e.prompt);
    canvas.set(e.target, P);
    const t = ts[n];
    const w = 1 / (t * (L - P));
    for (let r = 0; r < tn; r++) {
      const pos = s + r;
      const masked = pos >= P && rng.uniform() < t;
      ids[n * T + r] = masked ? maskId : canvas[pos];
      positions[n * T + r] = pos;
      targets[n * tn + r] = canvas[pos];
      if (masked) {
        weights[n * tn + r] = w;
        maskedCount++;
      }
    }
    for (let r = 0; r < tc; r++) {
      ids[n * T + tn + r] = canvas[r];
      positions[n * T + tn + r] = r;
    }
  }
  return {
    batch: N,
    seq: T,
    ids,
    positions,
    visibility: trainingVisibility(s, L, B),
    rowStart: 0,
    rowEnd: tn,
    canvas: L,
    noisyStart: s,
    noisyRows: tn,
    targets,
    weights,
    maskedCount,
    stepSequences: stepSequences ?? N,
  };
}

/** One draw u: sequence n gets t in (n/N, (n+1)/N]. */
function stratified(N: number, u: number): number[] {
  return Array.from({ length: N }, (_, n) => (n + 1 - u) / N);
}

/**
 * A step's batches: the examples grouped by canvas length (prompt + target rounded up to whole blocks), in
 * increasing length, with t stratified over all of them.
 */
export function buildStepBatches(
  examples: EncodedExample[],
  opts: BatchOptions,
  rng: Rng,
): TrainBatch[] {
  const N = examples.length;
  if (N === 0) throw new Error('empty batch');
  const ts = stratified(N, rng.uniform());
  const B = opts.blockLength;
  const groups = new Map<number, number[]>();
  for (const [n, e] of examples.entries()) {
    const L = Math.ceil((e.prompt.length + e.target.length) / B) * B;
    groups.set(L, [...(groups.get(L) ?? []), n]);
  }
  return [...groups.keys()]
    .sort((a, b) => a - b)
    .map((L) => {
      const members = groups.get(L)!;
      return buildBatch(
        members.map((n) => examples[n]),
        opts,
        rng,
        members.map((n) => ts[n]),
        N,
      );
    });
}
