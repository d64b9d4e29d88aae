/**
 * @module
 * Random weights for the tiny LLaDA2 checkpoint, with the official tensor names and [out, in] linear layout
 * (docs/model-graph.md §2). Each tensor draws from its own seeded stream (rng.ts), so adding a flag that changes
 * one tensor's shape leaves the others' values alone.
 *
 * The scales are chosen for testing, not realism: next-token distributions must be peaked (many positions with
 * max probability > 0.9, many below 0.5) so a threshold decoder takes both its branches, and routing must
 * depend on the expert bias and on the group limit. test/oracle/reference-forward.test.ts measures both.
 */
import { Rng, streamSeed } from './rng.ts';
import { specialTokenIds, type TinyModelOptions } from './options.ts';

export interface TinyTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** logits ≈ N(0, LOGIT_STD² · gain²) per vocab entry, before the final-norm gain spread below. */
const LOGIT_STD = 6;
/** Router logits ≈ N(0, ROUTER_LOGIT_STD²): sigmoid scores then spread over most of (0, 1). */
const ROUTER_LOGIT_STD = 2;
/** Comparable to the gaps between neighbouring sigmoid scores, so the bias changes the top-k now and then. */
const EXPERT_BIAS_STD = 0.1;
/** QK-norm gains > 1 sharpen attention (scores ≈ N(0, gain⁴)), so context moves the logits more. */
const QK_NORM_GAIN = 1.6;

/** How a tensor's values are drawn: normal(mean, std²), or a per-channel gain base·(1 + spread·normal). */
export type Init =
  { kind: 'normal'; std: number; mean?: number } | { kind: 'gain'; base: number; spread: number };

export interface TensorSpec {
  name: string;
  shape: number[];
  init: Init;
}

/** Every tensor of the checkpoint with its shape and init scale, in layer order (also used at full size by the rehearsal). */
export function tinyTensorSpecs(o: TinyModelOptions): TensorSpec[] {
  const out: TensorSpec[] = [];
  const add = (name: string, shape: number[], init: Init) => out.push({ name, shape, init });
  const linear = (name: string, rows: number, cols: number, gain = 1) =>
    add(name, [rows, cols], { kind: 'normal', std: gain / Math.sqrt(cols) });
  const norm = (name: string, dim: number, base = 1, spread = 0.1) =>
    add(name, [dim], { kind: 'gain', base, spread });
  const swiglu = (prefix: string, inter: number) => {
    linear(`${prefix}.gate_proj.weight`, inter, o.hidden);
    linear(`${prefix}.up_proj.weight`, inter, o.hidden);
    // silu(g)·u has std ≈ 0.5; the 2× keeps the MLP's residual contribution comparable to attention's.
    linear(`${prefix}.down_proj.weight`, o.hidden, inter, 2);
  };

  add('model.word_embeddings.weight', [o.vocab, o.hidden], { kind: 'normal', std: 1 });
  for (let l = 0; l < o.layers; l++) {
    const p = `model.layers.${l}`;
    norm(`${p}.input_layernorm.weight`, o.hidden);
    norm(`${p}.post_attention_layernorm.weight`, o.hidden);
    linear(
      `${p}.attention.query_key_value.weight`,
      (o.heads + 2 * o.kvHeads) * o.headDim,
      o.hidden,
    );
    linear(`${p}.attention.dense.weight`, o.hidden, o.heads * o.headDim);
    if (o.qkNorm) {
      norm(`${p}.attention.query_layernorm.weight`, o.headDim, QK_NORM_GAIN, 0.2);
      norm(`${p}.attention.key_layernorm.weight`, o.headDim, QK_NORM_GAIN, 0.2);
    }
    if (l < o.denseLayers) {
      swiglu(`${p}.mlp`, o.intermediate);
      continue;
    }
    linear(`${p}.mlp.gate.weight`, o.experts, o.hidden, ROUTER_LOGIT_STD);
    add(`${p}.mlp.gate.expert_bias`, [o.experts], { kind: 'normal', std: EXPERT_BIAS_STD });
    for (let e = 0; e < o.experts; e++) swiglu(`${p}.mlp.experts.${e}`, o.moeIntermediate);
    if (o.sharedExperts > 0) swiglu(`${p}.mlp.shared_experts`, o.moeIntermediate * o.sharedExperts);
  }
  // A wide spread of final-norm gains makes the logit scale depend on which channels a position's state
  // occupies: some positions get sharp distributions, others flat ones. Tied embeddings (std 1) would give
  // logits √hidden times larger than LOGIT_STD, so the gain's base absorbs that.
  norm('model.norm.weight', o.hidden, o.tieEmbeddings ? LOGIT_STD / Math.sqrt(o.hidden) : 1, 0.6);
  if (!o.tieEmbeddings) linear('lm_head.weight', o.vocab, o.hidden, LOGIT_STD);
  return out;
}

/** All tensors, sorted by name (the order they are written in). */
export function tinyTensors(o: TinyModelOptions): TinyTensor[] {
  return tinyTensorSpecs(o)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ name, shape, init }) => {
      const rng = new Rng(streamSeed(o.seed, name));
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < data.length; i++) {
        data[i] =
          init.kind === 'normal'
            ? (init.mean ?? 0) + init.std * rng.normal()
            : init.base * (1 + init.spread * rng.normal());
      }
      // A trained LLaDA2 never predicts [MASK]; a random head would now and then, and a committed mask stays
      // masked (as in the reference loop), wasting forwards. A zero row pins its logit at 0, far below the top.
      if (name === 'lm_head.weight') {
        const mask = specialTokenIds(o.vocab)['<|mask|>'];
        data.fill(0, mask * o.hidden, (mask + 1) * o.hidden);
      }
      return { name, shape, data };
    });
}
