/**
 * @module
 * The test oracle: a plain float64 LLaDA2-MoE forward over a checkpoint (no ORT), implementing
 * docs/model-graph.md §2–3, as the official modeling_llada2_moe.py behaves:
 *   embeddings → per layer [h += dense(attn(QK-norm, partial RoPE, GQA)(input_layernorm(h)));
 *   h += mlp(post_attention_layernorm(h))] → model.norm → lm_head (or tied embeddings).
 * Where the official code and the config keys disagree, the code wins:
 *   - norm_topk_prob is ignored: top-k weights are renormalised whenever k > 1 (see routeToken);
 *   - score_function is ignored: routing is always sigmoid, with expert_bias for selection only;
 *   - the rotary size is int(head_dim × partial_rotary_factor); a rotary_dim key is ignored.
 * Logits at position i predict the token at i (no shift).
 */
import { modelDims } from '../../src/model/config.ts';
import type { Llada2Config, ModelDims } from '../../src/model/config.ts';
import { expectShape } from '../../backends/node/export/checkpoint.ts';
import type { Checkpoint } from '../../backends/node/export/checkpoint.ts';
import { applyRope, linear, rmsNorm, routeToken, silu } from './reference-ops.ts';
import type { Route } from './reference-ops.ts';

export * from './reference-ops.ts';

export interface ReferenceModel {
  config: Llada2Config;
  dims: ModelDims;
  /** Every tensor the forward uses, as float64, by checkpoint name. */
  weights: Map<string, Float64Array>;
}

export interface ForwardInput {
  ids: number[];
  /** Absolute positions (RoPE), one per id. */
  positions: number[];
  /** Whether query i may attend key j (indices into ids). Every query must see at least one key. */
  visible: (i: number, j: number) => boolean;
  /** Called with each MoE routing decision, for tests that check routing statistics. */
  onRoute?: (info: {
    layer: number;
    token: number;
    routerLogits: Float64Array;
    route: Route;
  }) => void;
}

export async function loadReferenceModel(ckpt: Checkpoint): Promise<ReferenceModel> {
  const config = ckpt.config;
  const d = modelDims(config);
  const weights = new Map<string, Float64Array>();
  const load = async (name: string, shape: number[]) => {
    expectShape(ckpt, name, shape);
    weights.set(name, Float64Array.from((await ckpt.read(name)).data));
  };
  const swiglu = async (p: string, inter: number) => {
    await load(`${p}.gate_proj.weight`, [inter, d.hidden]);
    await load(`${p}.up_proj.weight`, [inter, d.hidden]);
    await load(`${p}.down_proj.weight`, [d.hidden, inter]);
  };
  await load('model.word_embeddings.weight', [d.vocab, d.hidden]);
  for (let l = 0; l < d.layers; l++) {
    const p = `model.layers.${l}`;
    await load(`${p}.input_layernorm.weight`, [d.hidden]);
    await load(`${p}.post_attention_layernorm.weight`, [d.hidden]);
    await load(`${p}.attention.query_key_value.weight`, [
      (d.heads + 2 * d.kvHeads) * d.headDim,
      d.hidden,
    ]);
    if (config.use_qkv_bias)
      await load(`${p}.attention.query_key_value.bias`, [(d.heads + 2 * d.kvHeads) * d.headDim]);
    await load(`${p}.attention.dense.weight`, [d.hidden, d.heads * d.headDim]);
    if (config.use_bias) await load(`${p}.attention.dense.bias`, [d.hidden]);
    if (config.use_qk_norm) {
      await load(`${p}.attention.query_layernorm.weight`, [d.headDim]);
      await load(`${p}.attention.key_layernorm.weight`, [d.headDim]);
    }
    if (l < d.denseLayers) {
      await swiglu(`${p}.mlp`, config.intermediate_size);
      continue;
    }
    await load(`${p}.mlp.gate.weight`, [d.experts, d.hidden]);
    // Official: a zero-initialised buffer, overwritten when the checkpoint has it.
    if (ckpt.has(`${p}.mlp.gate.expert_bias`)) await load(`${p}.mlp.gate.expert_bias`, [d.experts]);
    for (let e = 0; e < d.experts; e++)
      await swiglu(`${p}.mlp.experts.${e}`, config.moe_intermediate_size);
    if (config.num_shared_experts > 0)
      await swiglu(
        `${p}.mlp.shared_experts`,
        config.moe_intermediate_size * config.num_shared_experts,
      );
  }
  await load('model.norm.weight', [d.hidden]);
  if (!config.tie_word_embeddings) await load('lm_head.weight', [d.vocab, d.hidden]);
  return { config, dims: d, weights };
}

/** Logits [L, V], row-major, in float64. */
export function referenceForward(model: ReferenceModel, input: ForwardInput): Float64Array {
  const { config, dims: d } = model;
  const { ids, positions } = input;
  if (positions.length !== ids.length)
    throw new Error(`referenceForward: ${ids.length} ids but ${positions.length} positions`);
  const w = (name: string): Float64Array => {
    const t = model.weights.get(name);
    if (!t) throw new Error(`referenceForward: weight ${name} not loaded`);
    return t;
  };
  const emb = w('model.word_embeddings.weight');
  let h: Float64Array[] = ids.map((id) => {
    if (!Number.isInteger(id) || id < 0 || id >= d.vocab)
      throw new Error(`referenceForward: token id ${id} outside [0, ${d.vocab})`);
    return emb.slice(id * d.hidden, (id + 1) * d.hidden);
  });
  for (let l = 0; l < d.layers; l++) {
    const p = `model.layers.${l}`;
    const attn = attention(
      model,
      p,
      h.map((x) => rmsNorm(x, w(`${p}.input_layernorm.weight`), config.rms_norm_eps)),
      input,
    );
    h = h.map((x, t) => add(x, attn[t]));
    h = h.map((x, t) => {
      const xn = rmsNorm(x, w(`${p}.post_attention_layernorm.weight`), config.rms_norm_eps);
      const y = l < d.denseLayers ? swiglu(model, `${p}.mlp`, xn) : moe(model, l, t, xn, input);
      return add(x, y);
    });
  }
  const head = config.tie_word_embeddings ? emb : w('lm_head.weight');
  const logits = new Float64Array(ids.length * d.vocab);
  h.forEach((x, t) =>
    logits.set(
      linear(head, d.vocab, d.hidden, rmsNorm(x, w('model.norm.weight'), config.rms_norm_eps)),
      t * d.vocab,
    ),
  );
  return logits;
}

function attention(
  model: ReferenceModel,
  p: string,
  xs: Float64Array[],
  input: ForwardInput,
): Float64Array[] {
  const { config, dims: d } = model;
  const wq = model.weights.get(`${p}.attention.query_key_value.weight`)!;
  const bq = model.weights.get(`${p}.attention.query_key_value.bias`);
  const qNorm = model.weights.get(`${p}.attention.query_layernorm.weight`);
  const kNorm = model.weights.get(`${p}.attention.key_layernorm.weight`);
  const rows = (d.heads + 2 * d.kvHeads) * d.headDim;
  const q: Float64Array[][] = [];
  const k: Float64Array[][] = [];
  const v: Float64Array[][] = [];
  xs.forEach((x, t) => {
    const qkv = linear(wq, rows, d.hidden, x);
    if (bq) for (let r = 0; r < rows; r++) qkv[r] += bq[r];
    // Fused projection viewed as [heads + 2·kv_heads, head_dim], split Q, K, V in that order.
    const head = (i: number) => qkv.slice(i * d.headDim, (i + 1) * d.headDim);
    const prep = (x: Float64Array, norm: Float64Array | undefined) => {
      const y = config.use_qk_norm && norm ? rmsNorm(x, norm, config.rms_norm_eps) : x; // QK-norm before RoPE
      applyRope(y, input.positions[t], d.rotaryDim, config.rope_theta);
      return y;
    };
    q.push(Array.from({ length: d.heads }, (_, i) => prep(head(i), qNorm)));
    k.push(Array.from({ length: d.kvHeads }, (_, i) => prep(head(d.heads + i), kNorm)));
    v.push(Array.from({ length: d.kvHeads }, (_, i) => head(d.heads + d.kvHeads + i)));
  });
  const groupSize = d.heads / d.kvHeads; // GQA: query head h reads kv head floor(h / groupSize)
  const scale = 1 / Math.sqrt(d.headDim);
  const wo = model.weights.get(`${p}.attention.dense.weight`)!;
  const bo = model.weights.get(`${p}.attention.dense.bias`);
  return xs.map((_, i) => {
    const keys: number[] = [];
    for (let j = 0; j < xs.length; j++) if (input.visible(i, j)) keys.push(j);
    if (keys.length === 0) throw new Error(`referenceForward: query ${i} sees no key`);
    const out = new Float64Array(d.heads * d.headDim);
    for (let hq = 0; hq < d.heads; hq++) {
      const g = Math.floor(hq / groupSize);
      const scores = keys.map((j) => dot(q[i][hq], k[j][g]) * scale);
      const max = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - max));
      const sum = e.reduce((a, b) => a + b, 0);
      keys.forEach((j, n) => {
        const pj = e[n] / sum;
        for (let c = 0; c < d.headDim; c++) out[hq * d.headDim + c] += pj * v[j][g][c];
      });
    }
    const y = linear(wo, d.hidden, d.heads * d.headDim, out);
    if (bo) for (let r = 0; r < d.hidden; r++) y[r] += bo[r];
    return y;
  });
}

function swiglu(model: ReferenceModel, p: string, x: Float64Array): Float64Array {
  const hidden = model.dims.hidden;
  const gate = model.weights.get(`${p}.gate_proj.weight`)!;
  const inter = gate.length / hidden;
  const g = linear(gate, inter, hidden, x);
  const u = linear(model.weights.get(`${p}.up_proj.weight`)!, inter, hidden, x);
  for (let i = 0; i < inter; i++) g[i] = silu(g[i]) * u[i];
  return linear(model.weights.get(`${p}.down_proj.weight`)!, hidden, inter, g);
}

function moe(
  model: ReferenceModel,
  layer: number,
  token: number,
  x: Float64Array,
  input: ForwardInput,
): Float64Array {
  const { config, dims: d } = model;
  const p = `model.layers.${layer}.mlp`;
  const routerLogits = linear(model.weights.get(`${p}.gate.weight`)!, d.experts, d.hidden, x);
  const route = routeToken(routerLogits, model.weights.get(`${p}.gate.expert_bias`) ?? null, {
    topK: d.expertsPerToken,
    nGroup: config.n_group,
    topkGroup: config.topk_group,
    routedScalingFactor: config.routed_scaling_factor,
  });
  input.onRoute?.({ layer, token, routerLogits, route });
  // The shared expert is ungated and always added.
  const y =
    config.num_shared_experts > 0
      ? swiglu(model, `${p}.shared_experts`, x)
      : new Float64Array(d.hidden);
  route.experts.forEach((e, n) => {
    const ye = swiglu(model, `${p}.experts.${e}`, x);
    for (let i = 0; i < d.hidden; i++) y[i] += route.weights[n] * ye[i];
  });
  return y;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
  return y;
}
