/** Deterministic random weights for the toy transformer (seeded, so every test run sees the same model). */
import { Xoshiro128 } from '../prng.ts';

/** Strong position signal, so predictions vary along the canvas instead of collapsing to one token. */
const POS_STD = 1.5;

export interface ToyConfig {
  readonly vocabSize: number;
  readonly dim: number;
  readonly heads: number;
  readonly layers: number;
  readonly hidden: number;
  readonly maxPositions: number;
  /** Std of the logits: larger makes softmax more peaked. */
  readonly logitScale: number;
}

export interface ToyLayer {
  readonly wq: Float64Array;
  readonly wk: Float64Array;
  readonly wv: Float64Array;
  readonly wo: Float64Array;
  readonly w1: Float64Array;
  readonly w2: Float64Array;
}

export interface ToyWeights {
  /** [vocab × dim] */
  readonly embed: Float64Array;
  /** [maxPositions × dim], learned-style absolute positions (no RoPE needed for a toy). */
  readonly pos: Float64Array;
  readonly layers: ToyLayer[];
  /** [dim × vocab] */
  readonly head: Float64Array;
}

export function randomWeights(cfg: ToyConfig, seed: number): ToyWeights {
  const rng = new Xoshiro128(seed);
  // Box–Muller normals from the shared PRNG.
  const normal = (): number =>
    Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());
  const matrix = (n: number, std: number): Float64Array =>
    Float64Array.from({ length: n }, () => normal() * std);
  const { vocabSize: V, dim: d, hidden: f } = cfg;
  return {
    embed: matrix(V * d, 1),
    pos: matrix(cfg.maxPositions * d, POS_STD),
    layers: Array.from({ length: cfg.layers }, () => ({
      wq: matrix(d * d, 1 / Math.sqrt(d)),
      wk: matrix(d * d, 1 / Math.sqrt(d)),
      wv: matrix(d * d, 1 / Math.sqrt(d)),
      wo: matrix(d * d, 1 / Math.sqrt(d)),
      w1: matrix(d * f, 1 / Math.sqrt(d)),
      w2: matrix(f * d, 1 / Math.sqrt(f)),
    })),
    head: matrix(d * V, cfg.logitScale / Math.sqrt(d)),
  };
}

/** out[rows × m] = x[rows × n] · w[n × m], accumulated in a fixed order (row results never depend on other rows). */
export function matmul(
  x: Float64Array,
  rows: number,
  n: number,
  w: Float64Array,
  m: number,
): Float64Array {
  const out = new Float64Array(rows * m);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) {
      const a = x[r * n + i];
      for (let j = 0; j < m; j++) out[r * m + j] += a * w[i * m + j];
    }
  }
  return out;
}

export function rmsNorm(x: Float64Array, rows: number, d: number): Float64Array {
  const out = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[r * d + i] ** 2;
    const scale = 1 / Math.sqrt(ss / d + 1e-6);
    for (let i = 0; i < d; i++) out[r * d + i] = x[r * d + i] * scale;
  }
  return out;
}
