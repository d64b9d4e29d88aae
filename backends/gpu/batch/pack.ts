/**
 * Packs several sequences' forwards into one batched ForwardInput, and splits the batched output back. Pasts are
 * right-padded to the longest one with zero K/V, and shorter `seq`s with dummy query rows; the attention mask hides
 * every padding key, so each real row attends exactly the keys it would alone. Dummy rows see nothing (the graph's
 * finite mask value keeps them NaN-free) and are dropped, as is the padding of each present.
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
  /** Each sequence's past length and seq, in batch order. */
  pastLengths: number[];
  seqs: number[];
  /** The padded past length every row was given. */
  pastLength: number;
  /** Past key positions fed as padding (masked), summed over sequences: the cost of mixing past lengths. */
  paddedKeys: number;
  /** Dummy query rows, summed over sequences: the cost of mixing seq lengths. */
  paddedQueries: number;
}

function pastOf(input: ForwardInput): OrtKvState | null {
  const past = input.past as OrtKvState | null;
  if (past && past.batch !== 1)
    throw new Error(`batching needs single-sequence K/V, got batch ${past.batch}`);
  return past;
}

/** Packs single-sequence inputs; the batch's seq is the longest one. */
export function packForwards(inputs: readonly ForwardInput[], geo: KvGeometry): PackedBatch {
  const n = inputs.length;
  for (const x of inputs)
    if (x.batch !== 1) throw new Error(`batching needs batch-1 forwards, got batch ${x.batch}`);
  const seqs = inputs.map((x) => x.seq);
  const seq = Math.max(...seqs);
  const pasts = inputs.map(pastOf);
  const pastLengths = pasts.map((p) => p?.length ?? 0);
  const P = Math.max(...pastLengths);
  const width = P + seq;
  const ids = new Int32Array(n * seq);
  const positions = new Int32Array(n * seq);
  const visibility = new Uint8Array(n * seq * width);
  let paddedKeys = 0;
  let paddedQueries = 0;
  inputs.forEach((x, i) => {
    const p = pastLengths[i];
    const s = seqs[i];
    ids.set(x.ids, i * seq);
    positions.set(x.positions, i * seq);
    paddedKeys += P - p;
    paddedQueries += seq - s;
    // Rows [s, seq) are dummies: id 0, position 0, no visible key. Keys [p, P) and [P + s, P + seq) stay hidden.
    for (let r = 0; r < s; r++) {
      const src = r * (p + s);
      const dst = (i * seq + r) * width;
      visibility.set(x.visibility.subarray(src, src + p), dst);
      visibility.set(x.visibility.subarray(src + p, src + p + s), dst + P);
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
          for (let h = 0; h < kvHeads; h++)
            out.set(
              a.subarray(h * p * headDim, (h + 1) * p * headDim),
              (i * kvHeads + h) * P * headDim,
            );
        });
        return out;
      });
    past = new OrtKvState(
      n,
      P,
      pad((s) => s.keys),
      pad((s) => s.values),
    );
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
    seqs,
    pastLength: P,
    paddedKeys,
    paddedQueries,
  };
}

/** Splits a batched output into one output per packed input (views for the head, copies for present K/V). */
export function unpackForward(
  packed: PackedBatch,
  inputs: readonly ForwardInput[],
  out: ForwardOutput,
  geo: KvGeometry,
  vocabSize: number,
): ForwardOutput[] {
  const { seq } = packed.input;
  const { k } = out.topk;
  const present = out.present as OrtKvState | undefined;
  return inputs.map((x, i) => {
    const s = packed.seqs[i];
    const rows = <A extends Float32Array | Int32Array>(a: A, width: number) =>
      a.subarray(i * seq * width, (i * seq + s) * width) as A;
    const result: ForwardOutput = {
      topk: {
        k,
        logits: rows(out.topk.logits, k),
        probs: rows(out.topk.probs, k),
        ids: rows(out.topk.ids, k),
      },
    };
    if (x.wantLogits && out.logits) result.logits = rows(out.logits, vocabSize);
    if (x.wantPresent && present) result.present = trimPresent(present, i, packed, geo);
    return result;
  });
}

/** Row `i` of a batched present [n, kv, P + seq, hd] without its padding: [1, kv, p + s, hd]. */
function trimPresent(
  present: OrtKvState,
  i: number,
  packed: PackedBatch,
  { kvHeads, headDim }: KvGeometry,
): OrtKvState {
  const P = packed.pastLength;
  const T = P + packed.input.seq;
  const p = packed.pastLengths[i];
  const s = packed.seqs[i];
  const t = p + s;
  const cut = (a: Float32Array) => {
    const out = new Float32Array(kvHeads * t * headDim);
    for (let h = 0; h < kvHeads; h++) {
      const src = (i * kvHeads + h) * T * headDim;
      const dst = h * t * headDim;
      out.set(a.subarray(src, src + p * headDim), dst);
      out.set(a.subarray(src + P * headDim, src + (P + s) * headDim), dst + p * headDim);
    }
    return out;
  };
  return new OrtKvState(1, t, present.keys.map(cut), present.values.map(cut));
}
