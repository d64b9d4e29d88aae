/**
 * Builds the LLaDA2.0 (llada2_moe) forward graph exactly as the official modeling code (docs/model-graph.md §2–3),
 * with the I/O contract of src/model/graph-io.ts. Weights are read one tensor at a time from the checkpoint.
 */
import { modelDims, type Llada2Config, type ModelDims } from '../model/config.ts';
import * as io from '../model/graph-io.ts';
import { DT, type GraphBuilder } from './onnx-builder.ts';
import { embeddingDtype, embeddingLookup, linear, type QuantOptions } from './quantize.ts';
import { moeLayer, type MoeImplementation } from './moe.ts';
import { readTensor, rowBlocks, type TensorSource } from './tensor-source.ts';

export { ExportError, type TensorSource } from './tensor-source.ts';

export interface GraphOptions {
  quant: QuantOptions;
  topk: number;
  moe: MoeImplementation;
  onProgress?: (done: number, total: number, what: string) => void;
}

/** Rows of the embedding table converted and written at a time (16 MiB of fp32 at hidden 2048). */
const EMBEDDING_BLOCK_ROWS = 2048;
const NEG_BIG = -1e30; // masked attention logit: finite so fully-masked padding rows give no NaN

export class Llada2GraphBuilder {
  readonly d: ModelDims;
  private cos = '';
  private sin = '';
  private bias = '';

  constructor(
    private readonly b: GraphBuilder,
    private readonly cfg: Llada2Config,
    private readonly src: TensorSource,
    private readonly opt: GraphOptions,
  ) {
    this.d = modelDims(cfg);
  }

  async build(): Promise<void> {
    const { b, d } = this;
    const dims: io.GraphDims = {
      layers: d.layers,
      kvHeads: d.kvHeads,
      headDim: d.headDim,
      vocab: d.vocab,
      topk: this.opt.topk,
    };
    for (const spec of io.graphInputs(dims))
      b.input({ name: spec.name, dtype: dtypeOf(spec.dtype), shape: spec.shape });
    const total = d.layers + 2;
    this.opt.onProgress?.(0, total, 'embeddings');

    const embeddings = 'model.word_embeddings.weight';
    let h = await embeddingLookup(
      b,
      io.INPUT_IDS,
      embeddings,
      rowBlocks(this.src, embeddings, [d.vocab, d.hidden], EMBEDDING_BLOCK_ROWS),
      d.vocab,
      d.hidden,
      embeddingDtype(this.opt.quant),
      this.opt.quant.scaleSearch,
    );
    this.prepareRope();
    this.bias = b.op1('Unsqueeze', [
      b.op1('Where', [io.ATTENTION_MASK, b.f32Scalar(0), b.f32Scalar(NEG_BIG)]),
      b.i64([1]),
    ]);

    for (let l = 0; l < d.layers; l++) {
      this.opt.onProgress?.(l + 1, total, `layer ${l}`);
      const p = `model.layers.${l}`;
      const attnIn = await this.rmsNorm(h, `${p}.input_layernorm.weight`, d.hidden);
      h = b.op1('Add', [h, await this.attention(attnIn, l)]);
      const mlpIn = await this.rmsNorm(h, `${p}.post_attention_layernorm.weight`, d.hidden);
      const mlp =
        l < d.denseLayers
          ? await this.swiglu(mlpIn, `${p}.mlp`, this.cfg.intermediate_size)
          : await moeLayer(b, {
              x: mlpIn,
              prefix: `${p}.mlp`,
              cfg: this.cfg,
              src: this.src,
              quant: this.opt.quant,
              implementation: this.opt.moe,
              swiglu: (x, pre, inter) => this.swiglu(x, pre, inter),
            });
      h = b.op1('Add', [h, mlp]);
    }
    this.opt.onProgress?.(total - 1, total, 'head');
    const normed = await this.rmsNorm(h, 'model.norm.weight', d.hidden);
    // Tied checkpoints have no lm_head tensor: the head reuses the embedding matrix (stored transposed), read
    // again here rather than held through every layer.
    const head = await readTensor(
      this.src,
      this.cfg.tie_word_embeddings ? 'model.word_embeddings.weight' : 'lm_head.weight',
      [d.vocab, d.hidden],
    );
    b.op(
      'Identity',
      [
        linear(
          b,
          normed,
          { name: 'lm_head.weight', data: head, out: d.vocab, in: d.hidden },
          { ...this.opt.quant, dtype: this.opt.quant.lmHead ?? this.opt.quant.dtype },
        ),
      ],
      {},
      [io.LOGITS],
    );
    this.topkHead();
    for (const spec of io.graphOutputs(dims))
      b.output({ name: spec.name, dtype: dtypeOf(spec.dtype), shape: spec.shape });
    this.opt.onProgress?.(total, total, 'done');
  }

  /** Top-k head: values, ids and fp32 softmax probabilities over the full vocabulary (ties → lower id). */
  private topkHead(): void {
    const { b } = this;
    const [vals, idx] = b.op(
      'TopK',
      [io.LOGITS, b.i64([this.opt.topk])],
      { axis: -1, largest: 1, sorted: 1 },
      2,
    );
    b.op('Identity', [vals], {}, [io.TOPK_LOGITS]);
    b.op('Cast', [idx], { to: DT.INT32 }, [io.TOPK_INDICES]);
    const probs = b.op1('Softmax', [io.LOGITS], { axis: -1 });
    b.op('GatherElements', [probs, idx], { axis: -1 }, [io.TOPK_PROBS]);
  }

  /** RMSNorm over the last axis: x · rsqrt(mean(x²) + eps) · w. */
  async rmsNorm(x: string, weightName: string, size: number): Promise<string> {
    const { b } = this;
    const w = await readTensor(this.src, weightName, [size]);
    const wName = b.addInitializer(
      b.sink.put(
        weightName,
        DT.FLOAT,
        [size],
        [new Uint8Array(w.buffer, w.byteOffset, w.byteLength)],
      ),
    );
    const ms = b.op1('ReduceMean', [b.op1('Mul', [x, x]), b.i64([-1])], { keepdims: 1 });
    const inv = b.op1('Reciprocal', [
      b.op1('Sqrt', [b.op1('Add', [ms, b.f32Scalar(this.cfg.rms_norm_eps)])]),
    ]);
    return b.op1('Mul', [b.op1('Mul', [x, inv]), wName]);
  }

  /** cos/sin tables [max_pos, rotary/2] gathered by position once, shared by all layers. */
  private prepareRope(): void {
    const { b, d } = this;
    const half = d.rotaryDim / 2;
    const maxPos = this.cfg.max_position_embeddings;
    const cos = new Float32Array(maxPos * half);
    const sin = new Float32Array(maxPos * half);
    for (let i = 0; i < half; i++) {
      // fp32 inv_freq as in the official rotary embedding: 1 / theta^(2i / rotary_dim)
      const invFreq = Math.fround(1 / Math.pow(this.cfg.rope_theta, (2 * i) / d.rotaryDim));
      for (let p = 0; p < maxPos; p++) {
        const angle = Math.fround(p * invFreq);
        cos[p * half + i] = Math.cos(angle);
        sin[p * half + i] = Math.sin(angle);
      }
    }
    const table = (name: string, data: Float32Array) => {
      const t = b.addInitializer(
        b.sink.put(name, DT.FLOAT, [maxPos, half], [new Uint8Array(data.buffer)]),
      );
      const g = b.op1('Gather', [t, io.POSITION_IDS], { axis: 0 }); // [b, s, half]
      return b.op1('Unsqueeze', [b.op1('Concat', [g, g], { axis: -1 }), b.i64([1])]); // [b, 1, s, rot]
    };
    this.cos = table('rope.cos', cos);
    this.sin = table('rope.sin', sin);
  }

  /** Partial NeoX RoPE on the first rotary dims of x [b, heads, s, head_dim]; the rest passes through. */
  private rope(x: string): string {
    const { b, d } = this;
    const rot = d.rotaryDim;
    const slice = (v: string, from: number, to: number) =>
      b.op1('Slice', [v, b.i64([from]), b.i64([to]), b.i64([3])]);
    const xr = rot === d.headDim ? x : slice(x, 0, rot);
    const x1 = slice(xr, 0, rot / 2);
    const x2 = slice(xr, rot / 2, rot);
    const rotated = b.op1('Concat', [b.op1('Neg', [x2]), x1], { axis: -1 });
    const out = b.op1('Add', [b.op1('Mul', [xr, this.cos]), b.op1('Mul', [rotated, this.sin])]);
    return rot === d.headDim ? out : b.op1('Concat', [out, slice(x, rot, d.headDim)], { axis: -1 });
  }

  private async attention(x: string, l: number): Promise<string> {
    const { b, d, cfg } = this;
    const p = `model.layers.${l}.attention`;
    const qkvOut = (d.heads + 2 * d.kvHeads) * d.headDim;
    const wqkv = await readTensor(this.src, `${p}.query_key_value.weight`, [qkvOut, d.hidden]);
    let qkv = linear(
      b,
      x,
      { name: `${p}.query_key_value.weight`, data: wqkv, out: qkvOut, in: d.hidden },
      this.opt.quant,
    );
    if (cfg.use_qkv_bias && this.src.has(`${p}.query_key_value.bias`)) {
      const bias = await readTensor(this.src, `${p}.query_key_value.bias`, [qkvOut]);
      qkv = b.op1('Add', [
        qkv,
        b.addInitializer(
          b.sink.put(
            `${p}.query_key_value.bias`,
            DT.FLOAT,
            [qkvOut],
            [new Uint8Array(bias.buffer)],
          ),
        ),
      ]);
    }
    const [q0, k0, v0] = b.op(
      'Split',
      [qkv, b.i64([d.heads * d.headDim, d.kvHeads * d.headDim, d.kvHeads * d.headDim])],
      { axis: -1 },
      3,
    );
    const heads = async (v: string, n: number, norm: string | null) => {
      let r = b.op1('Reshape', [v, b.i64([0, 0, n, d.headDim])]);
      if (norm && cfg.use_qk_norm) r = await this.rmsNorm(r, norm, d.headDim);
      return b.op1('Transpose', [r], { perm: [0, 2, 1, 3] }); // [b, n, s, hd]
    };
    const q = this.rope(await heads(q0, d.heads, `${p}.query_layernorm.weight`));
    const k = this.rope(await heads(k0, d.kvHeads, `${p}.key_layernorm.weight`));
    const v = await heads(v0, d.kvHeads, null);
    const kAll = b.op1('Concat', [io.pastKeyName(l), k], { axis: 2 });
    const vAll = b.op1('Concat', [io.pastValueName(l), v], { axis: 2 });
    b.op('Identity', [kAll], {}, [io.presentKeyName(l)]);
    b.op('Identity', [vAll], {}, [io.presentValueName(l)]);

    // GQA without repeating K/V: group the query heads of each KV head along the sequence axis.
    const qs = b.op1('Mul', [q, b.f32Scalar(1 / Math.sqrt(d.headDim))]);
    const qg = b.op1('Reshape', [qs, b.i64([0, d.kvHeads, -1, d.headDim])]);
    const scores = b.op1('MatMul', [qg, b.op1('Transpose', [kAll], { perm: [0, 1, 3, 2] })]);
    const masked = b.op1('Add', [
      b.op1('Reshape', [scores, b.i64([0, d.heads, -1, 0])]),
      this.bias,
    ]);
    const probs = b.op1('Softmax', [masked], { axis: -1 });
    const ctx = b.op1('MatMul', [b.op1('Reshape', [probs, b.i64([0, d.kvHeads, -1, 0])]), vAll]);
    const merged = b.op1('Reshape', [
      b.op1('Transpose', [b.op1('Reshape', [ctx, b.i64([0, d.heads, -1, d.headDim])])], {
        perm: [0, 2, 1, 3],
      }),
      b.i64([0, 0, d.heads * d.headDim]),
    ]);
    const wo = await readTensor(this.src, `${p}.dense.weight`, [d.hidden, d.heads * d.headDim]);
    return linear(
      b,
      merged,
      { name: `${p}.dense.weight`, data: wo, out: d.hidden, in: d.heads * d.headDim },
      this.opt.quant,
    );
  }

  /** SwiGLU MLP: down(silu(gate(x)) · up(x)). */
  async swiglu(x: string, prefix: string, inter: number): Promise<string> {
    const { b, d } = this;
    const w = async (n: string, out: number, inn: number) => ({
      name: `${prefix}.${n}.weight`,
      data: await readTensor(this.src, `${prefix}.${n}.weight`, [out, inn]),
      out,
      in: inn,
    });
    const g = linear(b, x, await w('gate_proj', inter, d.hidden), this.opt.quant);
    const u = linear(b, x, await w('up_proj', inter, d.hidden), this.opt.quant);
    const a = b.op1('Mul', [b.op1('Mul', [g, b.op1('Sigmoid', [g])]), u]);
    return linear(b, a, await w('down_proj', d.hidden, inter), this.opt.quant);
  }
}

function dtypeOf(t: io.TensorSpec['dtype']): typeof DT.INT32 | typeof DT.BOOL | typeof DT.FLOAT {
  return t === 'int32' ? DT.INT32 : t === 'bool' ? DT.BOOL : DT.FLOAT;
}
