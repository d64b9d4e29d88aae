/**
 * A tiny real transformer implementing BlockRunner, for tests: 2 layers, seeded random weights, attention that
 * honours `visibility` exactly, a K/V cache, truncate, a top-k head and optional logits. Maths is float64 with
 * every row computed independently and keys summed in position order, so the reference and cached modes see
 * bit-identical numbers; outputs are rounded to float32 like a graph's.
 */
import type { BlockRunner, ForwardInput, ForwardOutput, KvState, RunnerInfo } from '../runner.ts';
import { headOutput } from './head.ts';
import { matmul, randomWeights, rmsNorm, type ToyConfig, type ToyWeights } from './toy-weights.ts';

export interface ToyRunnerOptions extends Partial<ToyConfig> {
  seed?: number;
  topK?: number;
  blockLength?: number;
  /** Added to the EOS logit: positive makes EOS (and so every stop path) more frequent. */
  eosBias?: number;
}

/** Per layer [length × dim] keys and values. */
interface ToyKv extends KvState {
  readonly k: Float64Array[];
  readonly v: Float64Array[];
  released: boolean;
}

export interface ToyCall {
  seq: number;
  pastLength: number;
  wantLogits: boolean;
  wantPresent: boolean;
}

export class ToyRunner implements BlockRunner {
  readonly info: RunnerInfo;
  readonly cfg: ToyConfig;
  /** Every forward, in order (its length is the NFE). */
  readonly calls: ToyCall[] = [];
  /** K/V states handed out (present, truncate) and not yet released: 0 after a generation means no leak. */
  live = 0;
  private readonly w: ToyWeights;
  private readonly bias: Float64Array;

  constructor(opts: ToyRunnerOptions = {}) {
    this.cfg = {
      vocabSize: opts.vocabSize ?? 48,
      dim: opts.dim ?? 16,
      heads: opts.heads ?? 2,
      layers: opts.layers ?? 2,
      hidden: opts.hidden ?? 32,
      maxPositions: opts.maxPositions ?? 256,
      logitScale: opts.logitScale ?? 6,
    };
    const V = this.cfg.vocabSize;
    this.info = {
      vocabSize: V,
      topK: opts.topK ?? 8,
      maskId: V - 1,
      eosId: V - 2,
      maxPositions: this.cfg.maxPositions,
      blockLength: opts.blockLength ?? 8,
    };
    this.w = randomWeights(this.cfg, opts.seed ?? 1);
    this.bias = new Float64Array(V);
    this.bias[this.info.maskId] = -1e4; // a real model never predicts the mask token
    this.bias[this.info.eosId] = opts.eosBias ?? 0;
  }

  get forwards(): number {
    return this.calls.length;
  }

  async forward(input: ForwardInput): Promise<ForwardOutput> {
    const { seq, ids, positions, visibility, wantLogits, wantPresent } = input;
    const past = input.past as ToyKv | null;
    if (input.batch !== 1) throw new Error('toy runner: batch 1 only');
    if (past?.released) throw new Error('toy runner: past K/V used after release');
    const pastLength = past?.length ?? 0;
    if (visibility.length !== seq * (pastLength + seq))
      throw new Error('toy runner: bad visibility size');
    this.calls.push({ seq, pastLength, wantLogits, wantPresent });
    const { dim: d, vocabSize: V } = this.cfg;
    let h: Float64Array = new Float64Array(seq * d);
    for (let t = 0; t < seq; t++) {
      for (let i = 0; i < d; i++)
        h[t * d + i] = this.w.embed[ids[t] * d + i] + this.w.pos[positions[t] * d + i];
    }
    const keys: Float64Array[] = [];
    const values: Float64Array[] = [];
    this.w.layers.forEach((layer, l) => {
      const x = rmsNorm(h, seq, d);
      const k = concat(past?.k[l], matmul(x, seq, d, layer.wk, d));
      const v = concat(past?.v[l], matmul(x, seq, d, layer.wv, d));
      keys.push(k);
      values.push(v);
      const attn = this.attend(
        matmul(x, seq, d, layer.wq, d),
        k,
        v,
        seq,
        pastLength + seq,
        visibility,
      );
      h = add(h, matmul(attn, seq, d, layer.wo, d));
      const up = matmul(rmsNorm(h, seq, d), seq, d, layer.w1, this.cfg.hidden).map(
        (a) => a / (1 + Math.exp(-a)),
      );
      h = add(h, matmul(up, seq, this.cfg.hidden, layer.w2, d));
    });
    const logits = matmul(rmsNorm(h, seq, d), seq, d, this.w.head, V);
    for (let t = 0; t < seq; t++) for (let j = 0; j < V; j++) logits[t * V + j] += this.bias[j];
    const out = headOutput(logits, seq, V, this.info.topK, wantLogits);
    if (!wantPresent) return out;
    const present: ToyKv = {
      length: pastLength + seq,
      batch: 1,
      k: keys,
      v: values,
      released: false,
    };
    this.live++;
    return { ...out, present };
  }

  truncate(state: KvState, length: number): KvState {
    const s = state as ToyKv;
    if (s.released) throw new Error('toy runner: truncate after release');
    const d = this.cfg.dim;
    this.live++;
    return {
      length,
      batch: 1,
      k: s.k.map((a) => a.slice(0, length * d)),
      v: s.v.map((a) => a.slice(0, length * d)),
      released: false,
    } as ToyKv;
  }

  release(state: KvState): void {
    const s = state as ToyKv;
    if (s.released) throw new Error('toy runner: double release');
    s.released = true;
    this.live--;
  }

  /** Multi-head attention over visible keys only, each in key order (max, then sum, then weighted values). */
  private attend(
    q: Float64Array,
    k: Float64Array,
    v: Float64Array,
    seq: number,
    width: number,
    vis: Uint8Array,
  ): Float64Array {
    const { dim: d, heads } = this.cfg;
    const hd = d / heads;
    const out = new Float64Array(seq * d);
    const scores = new Float64Array(width);
    for (let i = 0; i < seq; i++) {
      for (let hh = 0; hh < heads; hh++) {
        let max = -Infinity;
        for (let j = 0; j < width; j++) {
          if (!vis[i * width + j]) continue;
          let s = 0;
          for (let c = hh * hd; c < (hh + 1) * hd; c++) s += q[i * d + c] * k[j * d + c];
          scores[j] = s / Math.sqrt(hd);
          max = Math.max(max, scores[j]);
        }
        let z = 0;
        for (let j = 0; j < width; j++) if (vis[i * width + j]) z += Math.exp(scores[j] - max);
        for (let j = 0; j < width; j++) {
          if (!vis[i * width + j]) continue;
          const p = Math.exp(scores[j] - max) / z;
          for (let c = hh * hd; c < (hh + 1) * hd; c++) out[i * d + c] += p * v[j * d + c];
        }
      }
    }
    return out;
  }
}

function concat(a: Float64Array | undefined, b: Float64Array): Float64Array {
  if (!a) return b;
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((x, i) => x + b[i]);
}
