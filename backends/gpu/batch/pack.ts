/**
 * Packs several sequences' forwards (same `seq`, any past lengths) into one batched ForwardInput, and splits the
 * batched output back. Pasts are right-padded to the longest one with zero K/V that the attention mask hides, so
 * every row attends exactly the keys it would alone; the padding is trimmed from each present again.
 */
import type { ForwardInput, ForwardOutput, KvState } from '../../../src/decode/runner.ts';
import { OrtKvState } from '../../../src/ort/session-runner.ts';

/** K/V geometry of the graph (manifest.graph). */
export interface KvGeometry {
  layers: number;
  kvHeads: number;
  headDim: number;
}

export interface PackedBatch {
  input: ForwardInput;
  /** Each sequence's past length, in batch order. */
  pastLengths: number[];
  /** The padded past length every row was given. */
  pastLength: number;
  /** Key positions fed as padding (masked), summed over rows: the cost of mixing past lengths. */
  paddedKeys: number;
}

function pastOf(input: ForwardInput): OrtKvState | null {
  const past = input.past as OrtKvState | null;
  if (past && past.batch !== 1) throw new Error(`batching needs single-sequence K/V, got batch ${past.batch}`);
  return past;
}

/** Packs single-sequence inputs of one `seq` length; throws when they disagree. */
export function packForwards(inputs: readonly ForwardInput[], geo: KvGeometry): PackedBatch {
  const n = inputs.length;
  const seq = inputs[0].seq;
  for (const x of inputs) {
    if (x.batch !== 1) throw new Error(`batching needs batch-1 forwards, got batch ${x.batch}`);
    if (x.seq !== seq) throw new Error(`cannot pack seq ${x.seq} with seq ${seq}`);
  }
  const pasts = inputs.map(pastOf);
  const pastLengths = pasts.map((p) => p?.length ?? 0);
  const P = Math.max(...pastLengths);
  const width = P + seq;
  const ids = new Int32Array(n * seq);
  const positions = new Int32Array(n * seq);
  const visibility = new Uint8Array(n * seq * width);
  let paddedKeys = 0;
  inputs.forEach((x, i) => {
    ids.set(x.ids, i * seq);
    positions.set(x.positions, i * seq);
    const p = pastLengths[i];
    paddedKeys += P - p;
    for (let r = 0; r < seq; r++) {
      const src = r * (p + seq);
      const dst = (i * seq + r) * width;
      visibility.set(x.visibility.subarray(src, src + p), dst);
      // Keys [p, P) stay 0: the padding is never visible.
      visibility.set(x.visibility.subarray(src + p, src + p + seq), dst + P);
    }
  });
  let past: KvState | null = null;
  if (P > 0) {
    const { layers, kvHeads, headDim } = geo;
    const pad = (pick: (s: OrtKvState) => Float32Array[]) =>
      Array.from({ length: layers }, (_, l) => {
        const out = new Float32Array(n * kvHeads * P * headDim);
        pasts.forEach((s, i) => {
          if (!s) return;
          const a = pick(s)[l];
          const p = s.length;
          for (let h = 0; h < kvHeads; h++) out.set(a.subarray(h * p * headDim, (h + 1) * p * headDim), (i * kvHeads + h) * P * headDim);
        });
        return out;
      });
    past = new OrtKvState(n, P, pad((s) => s.keys), pad((s) => s.values));
  }
  return {
    input: {
      batch: n,
      seq,
      ids,
      positions,
      visibility,
      past,
      wantLogits: inputs.some((x) => x.wantLogits),
      wantPresent: inputs.some((x) => x.wantPresent),
    },
    pastLengths,
    pastLength: P,
    paddedKeys,
  };
}

/** Splits a batched output into one output per packed input (views for the head, copies for present K/V). */
export function unpackForward(packed: PackedBatch, inputs: readonly ForwardInput[], out: ForwardOutput, geo: KvGeometry, vocabSize: number): ForwardOutput[] {
  const { seq } = packed.input;
  const { k } = out.topk;
  const P = packed.pastLength;
  const present = out.present as OrtKvState | undefined;
  return inputs.map((x, i) => {
    const rows = (a: Float32Array | Int32Array, width: number) => a.subarray(i * seq * width, (i + 1) * seq * width);
    const result: ForwardOutput = {
      topk: {
        k,
        logits: rows(out.topk.logits, k) as Float32Array,
        probs: rows(out.topk.probs, k) as Float32Array,
        ids: rows(out.topk.ids, k) as Int32Array,
      },
    };
    if (x.wantLogits && out.logits) result.logits = rows(out.logits, vocabSize) as Float32Array;
    if (x.wantPresent && present) result.present = trimPresent(present, i, packed.pastLengths[i], P, seq, geo);
    return result;
  });
}

/** Row `i` of a batched present [n, kv, P + seq, hd] without its padding: [1, kv, p + seq, hd]. */
function trimPresent(present: OrtKvState, i: number, p: number, P: number, seq: number, { kvHeads, headDim }: KvGeometry): OrtKvState {
  const T = P + seq;
  const t = p + seq;
  const cut = (a: Float32Array) => {
    const out = new Float32Array(kvHeads * t * headDim);
    for (let h = 0; h < kvHeads; h++) {
      const src = (i * kvHeads + h) * T * headDim;
      const dst = h * t * headDim;
      out.set(a.subarray(src, src + p * headDim), dst);
      out.set(a.subarray(src + P * headDim, src + T * headDim), dst + p * headDim);
    }
    return out;
  };
  return new OrtKvState(1, t, present.keys.map(cut), present.values.map(cut));
}
