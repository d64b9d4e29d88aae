/**
 * The BlockRunner over an onnxruntime-common InferenceSession. The ORT package (onnxruntime-node or
 * onnxruntime-web) is injected, so one implementation serves Node, workerd and browsers.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type {
  BlockRunner,
  ForwardInput,
  ForwardOutput,
  KvState,
  RunnerInfo,
} from '../decode/runner.ts';
import * as io from '../model/graph-io.ts';
import type { Manifest } from '../model/manifest.ts';

/** The parts of an ORT package the runner needs (its own Tensor class must be used for feeds). */
export interface OrtModule {
  Tensor: typeof Tensor;
}

/** K/V for every layer as [batch, kv_heads, length, head_dim] float32 arrays. */
export class OrtKvState implements KvState {
  readonly bytes: number;

  constructor(
    readonly batch: number,
    readonly length: number,
    readonly keys: Float32Array[],
    readonly values: Float32Array[],
  ) {
    this.bytes = [...keys, ...values].reduce((sum, a) => sum + a.byteLength, 0);
  }
}

export interface SessionRunnerOptions {
  ort: OrtModule;
  session: InferenceSession;
  manifest: Manifest;
}

export class SessionRunner implements BlockRunner {
  readonly info: RunnerInfo;
  private readonly ort: OrtModule;
  private readonly session: InferenceSession;
  private readonly layers: number;
  private readonly kvHeads: number;
  private readonly headDim: number;

  constructor({ ort, session, manifest }: SessionRunnerOptions) {
    this.ort = ort;
    this.session = session;
    this.layers = manifest.graph.layers;
    this.kvHeads = manifest.graph.kv_heads;
    this.headDim = manifest.graph.head_dim;
    this.info = {
      vocabSize: manifest.tokens.vocab_size,
      topK: manifest.graph.topk,
      maskId: manifest.tokens.mask_id,
      eosId: manifest.tokens.eos_id,
      maxPositions: manifest.decode.max_positions,
      blockLength: manifest.decode.block_length,
    };
  }

  async forward(input: ForwardInput): Promise<ForwardOutput> {
    const { batch, seq } = input;
    const past = input.past as OrtKvState | null;
    const pastLen = past?.length ?? 0;
    const { Tensor: T } = this.ort;
    const feeds: Record<string, Tensor> = {
      [io.INPUT_IDS]: new T('int32', input.ids, [batch, seq]),
      [io.POSITION_IDS]: new T('int32', input.positions, [batch, seq]),
      [io.ATTENTION_MASK]: new T('bool', input.visibility, [batch, seq, pastLen + seq]),
    };
    const kvShape = [batch, this.kvHeads, pastLen, this.headDim];
    const empty = new Float32Array(0);
    for (let l = 0; l < this.layers; l++) {
      feeds[io.pastKeyName(l)] = new T('float32', past ? past.keys[l] : empty, kvShape);
      feeds[io.pastValueName(l)] = new T('float32', past ? past.values[l] : empty, kvShape);
    }
    const fetches = [io.TOPK_LOGITS, io.TOPK_PROBS, io.TOPK_INDICES];
    if (input.wantLogits) fetches.push(io.LOGITS);
    if (input.wantPresent)
      for (let l = 0; l < this.layers; l++)
        fetches.push(io.presentKeyName(l), io.presentValueName(l));
    const out = await this.session.run(feeds, fetches);
    const result: ForwardOutput = {
      topk: {
        k: this.info.topK,
        logits: out[io.TOPK_LOGITS].data as Float32Array,
        probs: out[io.TOPK_PROBS].data as Float32Array,
        ids: out[io.TOPK_INDICES].data as Int32Array,
      },
    };
    if (input.wantLogits) result.logits = out[io.LOGITS].data as Float32Array;
    if (input.wantPresent) {
      const keys: Float32Array[] = [];
      const values: Float32Array[] = [];
      for (let l = 0; l < this.layers; l++) {
        keys.push(out[io.presentKeyName(l)].data as Float32Array);
        values.push(out[io.presentValueName(l)].data as Float32Array);
      }
      result.present = new OrtKvState(batch, pastLen + seq, keys, values);
    }
    return result;
  }

  truncate(state: KvState, length: number): KvState {
    const s = state as OrtKvState;
    if (length === s.length) return s;
    if (length > s.length || length < 0)
      throw new RangeError(`truncate: length ${length} outside [0, ${s.length}]`);
    const cut = (a: Float32Array) => {
      const rows = s.batch * this.kvHeads;
      const out = new Float32Array(rows * length * this.headDim);
      for (let r = 0; r < rows; r++) {
        out.set(
          a.subarray(r * s.length * this.headDim, (r * s.length + length) * this.headDim),
          r * length * this.headDim,
        );
      }
      return out;
    };
    return new OrtKvState(s.batch, length, s.keys.map(cut), s.values.map(cut));
  }
}
