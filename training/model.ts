/**
 * @module
 * The LLaDA2 layer stack in tfjs ops, for training (docs/model-graph.md §2): embeddings → per layer
 * [h += dense(attention(input_layernorm(h))); h += mlp(post_attention_layernorm(h))] → model.norm → lm_head.
 * Attention: separate q/k/v projections (fused to query_key_value at export), per-head QK-RMSNorm before partial
 * NeoX RoPE, GQA, an additive mask that encodes any visibility pattern. The MLP is a SwiGLU in the first
 * `denseLayers` layers and a MoE after them: the fp32 sigmoid router, selection with the expert bias on the CPU
 * (router.ts), the chosen experts' unbiased scores renormalised × routed_scaling_factor, plus the ungated shared
 * expert. Every expert is computed and weighted by a routing matrix that is zero off the chosen ones, so
 * gradients reach only the chosen experts (and the router through their weights), exactly as a sparse MoE
 * (docs/training.md §3).
 *
 * Speed notes (docs/training.md §2): every matmul goes through a custom gradient with explicit transposes (the
 * wasm matmul with transpose flags is about 10× slower), embeddings are a one-hot matmul with the one-hot cast
 * to float32 (tf.oneHot(..., 'float32') is wrong on wasm), and only functional ops are used.
 */
import { selectExperts } from './router.ts';
import { isMoeLayer, paramShapes, type DemoModelConfig } from './shapes.ts';
import { tf } from './tf.ts';

export type { DemoModelConfig } from './shapes.ts';
export { initParamArrays, paramShapes } from './shapes.ts';

/** Router state of the MoE layers: the expert bias per layer (no gradient), and where to count the loads. */
export interface RouterState {
  bias: Map<number, Float32Array>;
  /** When given, each forward adds the tokens routed to each expert, per layer. */
  loads?: Map<number, Float64Array>;
}

/** Parameters by training name; linear weights are [in, out] so the forward needs no transpose. */
export type Params = Record<string, tf.Tensor>;

/** Below any logit the masked keys could reach, small enough that exp() of it is exactly 0 in float32. */
const BLOCKED = -1e9;

export function paramsFromArrays(c: DemoModelConfig, arrays: Map<string, Float32Array>): Params {
  const p: Params = {};
  for (const [name, shape] of paramShapes(c)) {
    const data = arrays.get(name);
    if (!data) throw new Error(`parameter ${name} missing`);
    p[name] = tf.keep(tf.tensor(data, shape, 'float32'));
  }
  return p;
}

export async function paramsToArrays(
  c: DemoModelConfig,
  p: Params,
): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name] of paramShapes(c)) out.set(name, Float32Array.from(await p[name].data()));
  return out;
}

/** x [m, k] · w [k, n], with gradients computed by plain matmuls over explicit transposes. */
const linear2d = tf.customGrad((...args: unknown[]) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as tf.Tensor2D[];
      return [
        tf.matMul(dy as tf.Tensor2D, tf.transpose(sw)),
        tf.matMul(tf.transpose(sx), dy as tf.Tensor2D),
      ];
    },
  };
}) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor2D;

/** a [b, m, k] · b [b, k, n], gradients as above. */
const bmm = tf.customGrad((...args: unknown[]) => {
  const [a, b, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as tf.Tensor3D[];
      const t = (x: tf.Tensor3D) => tf.transpose(x, [0, 2, 1]);
      return [tf.matMul(dy as tf.Tensor3D, t(sb)), tf.matMul(t(sa), dy as tf.Tensor3D)];
    },
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor3D;

function rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

/** [hd, hd]: x · R = NeoX rotate_half over the first `rot` dims, 0 over the rest. */
function rotateHalfMatrix(hd: number, rot: number): Float32Array {
  const r = new Float32Array(hd * hd);
  const half = rot / 2;
  for (let i = 0; i < half; i++) {
    r[(i + half) * hd + i] = -1; // out[i] = -x[i + half]
    r[i * hd + i + half] = 1; // out[i + half] = x[i]
  }
  return r;
}

/** cos/sin tables [rows, hd] for the given positions; dims ≥ rot pass through (cos 1, sin 0). */
function ropeTables(
  c: DemoModelConfig,
  positions: Int32Array,
): { cos: Float32Array; sin: Float32Array } {
  const hd = c.headDim;
  const half = c.rotaryDim / 2;
  const cos = new Float32Array(positions.length * hd).fill(1);
  const sin = new Float32Array(positions.length * hd);
  for (let t = 0; t < positions.length; t++) {
    for (let i = 0; i < half; i++) {
      const angle = positions[t] * Math.pow(c.ropeTheta, (-2 * i) / c.rotaryDim);
      cos[t * hd + i] = cos[t * hd + i + half] = Math.cos(angle);
      sin[t * hd + i] = sin[t * hd + i + half] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

export interface ForwardBatch {
  /** Sequences in the batch. */
  batch: number;
  /** Tokens per sequence. */
  seq: number;
  /** int32 [batch × seq]. */
  ids: Int32Array;
  /** int32 [batch × seq] absolute positions. */
  positions: Int32Array;
  /** [maskBatch × seq × seq], 1 where query i may attend key j; maskBatch is 1 (shared) or batch. */
  visibility: Uint8Array;
  /** Logits only for rows [rowStart, rowEnd) of each sequence (default: all). */
  rowStart?: number;
  rowEnd?: number;
}

/** Constant inputs of one forward, built on the CPU; dispose() after use. */
export interface ForwardConsts {
  oneHot: tf.Tensor2D;
  cos: tf.Tensor;
  sin: tf.Tensor;
  rotate: tf.Tensor2D;
  mask: tf.Tensor;
  dispose(): void;
}

export function forwardConsts(c: DemoModelConfig, b: ForwardBatch): ForwardConsts {
  const { batch: N, seq: T } = b;
  const rep = c.heads / c.kvHeads;
  const maskBatch = b.visibility.length / (T * T);
  if (maskBatch !== 1 && maskBatch !== N)
    throw new Error(`visibility has ${b.visibility.length} entries, not 1 or ${N} × ${T}²`);
  // Rows of the score matrix are (query head within the group, position): repeat the mask rows per head.
  const mask = new Float32Array(maskBatch * rep * T * T);
  for (let m = 0; m < maskBatch; m++) {
    for (let r = 0; r < rep; r++) {
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++)
          mask[((m * rep + r) * T + i) * T + j] = b.visibility[(m * T + i) * T + j] ? 0 : BLOCKED;
      }
    }
  }
  const { cos, sin } = ropeTables(c, b.positions);
  const consts = {
    oneHot: tf.tidy(() =>
      tf.cast(tf.oneHot(tf.tensor1d(b.ids, 'int32'), c.vocab), 'float32'),
    ) as tf.Tensor2D,
    cos: tf.tensor(cos, [N * T, 1, c.headDim]),
    sin: tf.tensor(sin, [N * T, 1, c.headDim]),
    rotate: tf.tensor2d(rotateHalfMatrix(c.headDim, c.rotaryDim), [c.headDim, c.headDim]),
    mask: tf.tensor(mask, [maskBatch, 1, rep * T, T]),
    dispose() {
      for (const t of [consts.oneHot, consts.cos, consts.sin, consts.rotate, consts.mask])
        t.dispose();
    },
  };
  return consts;
}

/** Logits [batch, rowEnd − rowStart, vocab]. Call inside tf.tidy (or a gradient function). */
export function forward(
  c: DemoModelConfig,
  p: Params,
  b: ForwardBatch,
  k: ForwardConsts,
  router?: RouterState,
): tf.Tensor3D {
  const { batch: N, seq: T } = b;
  const { heads: nh, kvHeads: nkv, headDim: hd } = c;
  const rep = nh / nkv;
  const rows = N * T;
  const scale = 1 / Math.sqrt(hd);
  const rope = (x: tf.Tensor, heads: number) => {
    const flat = tf.reshape(x, [rows * heads, hd]);
    const rotated = tf.reshape(linear2d(flat, k.rotate), [rows, heads, hd]);
    return tf.add(tf.mul(tf.reshape(x, [rows, heads, hd]), k.cos), tf.mul(rotated, k.sin));
  };
  let h: tf.Tensor = linear2d(k.oneHot, p.embed);
  for (let l = 0; l < c.layers; l++) {
    const w = (n: string) => p[`l${l}.${n}`];
    const xn = rmsNorm(h, w('in_norm'), c.eps);
    const q = rope(
      rmsNorm(tf.reshape(linear2d(xn, w('q')), [rows, nh, hd]), w('q_norm'), c.eps),
      nh,
    );
    const key = rope(
      rmsNorm(tf.reshape(linear2d(xn, w('k')), [rows, nkv, hd]), w('k_norm'), c.eps),
      nkv,
    );
    const v = tf.reshape(linear2d(xn, w('v')), [N, T, nkv, hd]);
    // GQA without a tile: query head g·rep + r reads kv head g, so [N, nh, T, hd] regroups as [N·nkv, rep·T, hd].
    const qg = tf.reshape(tf.transpose(tf.reshape(q, [N, T, nh, hd]), [0, 2, 1, 3]), [
      N * nkv,
      rep * T,
      hd,
    ]);
    const kt = tf.reshape(tf.transpose(tf.reshape(key, [N, T, nkv, hd]), [0, 2, 3, 1]), [
      N * nkv,
      hd,
      T,
    ]);
    const scores = tf.add(tf.reshape(tf.mul(bmm(qg, kt), scale), [N, nkv, rep * T, T]), k.mask);
    const probs = tf.reshape(tf.softmax(scores), [N * nkv, rep * T, T]);
    const vg = tf.reshape(tf.transpose(v, [0, 2, 1, 3]), [N * nkv, T, hd]);
    const ctx = tf.reshape(tf.transpose(tf.reshape(bmm(probs, vg), [N, nh, T, hd]), [0, 2, 1, 3]), [
      rows,
      nh * hd,
    ]);
    h = tf.add(h, linear2d(ctx, w('o')));
    const xm = rmsNorm(h, w('post_norm'), c.eps);
    h = tf.add(
      h,
      isMoeLayer(c, l) ? moe(c, p, l, xm, router) : swiglu(xm, w('gate'), w('up'), w('down')),
    );
  }
  const start = b.rowStart ?? 0;
  const end = b.rowEnd ?? T;
  let out = h;
  if (start !== 0 || end !== T)
    out = tf.reshape(
      tf.slice(tf.reshape(h, [N, T, c.hidden]), [0, start, 0], [N, end - start, c.hidden]),
      [N * (end - start), c.hidden],
    );
  const logits = linear2d(rmsNorm(out, p.norm, c.eps), p.lm_head);
  return tf.reshape(logits, [N, end - start, c.vocab]);
}

function swiglu(x: tf.Tensor, gate: tf.Tensor, up: tf.Tensor, down: tf.Tensor): tf.Tensor {
  const g = linear2d(x, gate);
  return linear2d(tf.mul(tf.mul(g, tf.sigmoid(g)), linear2d(x, up)), down);
}

/** The MoE MLP of layer l over x [rows, hidden]. */
function moe(
  c: DemoModelConfig,
  p: Params,
  l: number,
  x: tf.Tensor,
  router: RouterState | undefined,
): tf.Tensor {
  const w = (n: string) => p[`l${l}.${n}`];
  const rows = x.shape[0];
  const { experts: E, moeIntermediate: I } = c;
  const bias = router?.bias.get(l);
  if (!bias) throw new Error(`layer ${l} is MoE: the forward needs its expert bias`);
  const scores = tf.sigmoid(linear2d(x, w('router'))); // [rows, E], fp32
  const mask = tf.tensor2d(
    selectExperts(scores.dataSync() as Float32Array, bias, c, router?.loads?.get(l)),
    [rows, E],
  );
  const chosen = tf.mul(scores, mask);
  const weights = tf.mul(tf.div(chosen, tf.add(tf.sum(chosen, -1, true), 1e-20)), c.routedScaling); // [rows, E]
  const g = linear2d(x, w('experts.gate'));
  const act = tf.mul(tf.mul(g, tf.sigmoid(g)), linear2d(x, w('experts.up'))); // [rows, E·I]
  const weighted = tf.reshape(
    tf.mul(tf.reshape(act, [rows, E, I]), tf.reshape(weights, [rows, E, 1])),
    [rows, E * I],
  );
  const routed = linear2d(weighted, w('experts.down'));
  if (c.sharedExperts === 0) return routed;
  return tf.add(routed, swiglu(x, w('shared.gate'), w('shared.up'), w('shared.down')));
}

/** Logits as float32 [batch × rows × vocab] (inference; no gradients kept). */
export async function forwardLogits(
  c: DemoModelConfig,
  p: Params,
  b: ForwardBatch,
  router?: RouterState,
): Promise<Float32Array> {
  const k = forwardConsts(c, b);
  try {
    const t = tf.tidy(() => forward(c, p, b, k, router));
    const data = (await t.data()) as Float32Array;
    t.dispose();
    return data;
  } finally {
    k.dispose();
  }
}
