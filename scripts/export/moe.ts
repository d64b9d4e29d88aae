/**
 * The LLaDA2 MoE layer: sigmoid router with expert bias and group-limited top-k (llada2.md §3.2 step 5),
 * experts computed either densely (all experts, tiny configs only) or with ORT's sparse MoE kernel.
 */
import type { Llada2Config } from '../../src/model/config.ts';
import { DT, type GraphBuilder } from './onnx-builder.ts';
import { linear, type QuantOptions } from './quantize.ts';
import { readTensor, type TensorSource } from './llada2-graph.ts';

export type MoeImplementation = 'dense' | 'ort-moe';

export interface MoeLayerInput {
  x: string;
  prefix: string;
  cfg: Llada2Config;
  src: TensorSource;
  quant: QuantOptions;
  implementation: MoeImplementation;
  swiglu: (x: string, prefix: string, inter: number) => Promise<string>;
}

export interface Routing {
  /** int64 [n, k]: chosen experts. */
  experts: string;
  /** float32 [n, k]: their weights, renormalised to sum 1, × routed_scaling_factor (unless folded). */
  weights: string;
  /** float32 [n, E]: zeros (for scattering). */
  zeros: string;
}

/**
 * Router over x2d [n, H]. Selection uses sigmoid scores + expert_bias; weights use the unbiased scores.
 * The official code renormalises whenever top-k > 1, whatever norm_topk_prob says (llada2.md §8).
 */
export async function route(b: GraphBuilder, x2d: string, p: MoeLayerInput, scale: number): Promise<Routing> {
  const { cfg } = p;
  const E = cfg.num_experts;
  const H = cfg.hidden_size;
  const G = cfg.n_group;
  const k = cfg.num_experts_per_tok;
  const gate = await readTensor(p.src, `${p.prefix}.gate.weight`, [E, H]);
  // Router in fp32 regardless of the package dtype (router_dtype fp32).
  const logits = linear(b, x2d, { name: `${p.prefix}.gate.weight`, data: gate, out: E, in: H }, { ...p.quant, dtype: 'fp32' });
  const scores = b.op1('Sigmoid', [logits]);
  let choice = scores;
  if (p.src.has(`${p.prefix}.gate.expert_bias`)) {
    const bias = await readTensor(p.src, `${p.prefix}.gate.expert_bias`, [E]);
    choice = b.op1('Add', [scores, b.addInitializer(b.sink.put(`${p.prefix}.gate.expert_bias`, DT.FLOAT, [E], [new Uint8Array(bias.buffer, bias.byteOffset, bias.byteLength)]))]);
  }
  const zeros = b.op1('Mul', [scores, b.f32Scalar(0)]);
  if (G > 1) {
    // Group score = sum of the top-2 biased scores in each group; keep the best topk_group groups.
    const grouped = b.op1('Reshape', [choice, b.i64([-1, G, E / G])]);
    const [top2] = b.op('TopK', [grouped, b.i64([2])], { axis: -1 }, 2);
    const groupScores = b.op1('ReduceSum', [top2, b.i64([-1])], { keepdims: 0 });
    const [groupVals, groupIdx] = b.op('TopK', [groupScores, b.i64([cfg.topk_group])], { axis: -1 }, 2);
    const ones = b.op1('Add', [b.op1('Mul', [groupVals, b.f32Scalar(0)]), b.f32Scalar(1)]);
    const groupMask = b.op1('ScatterElements', [b.op1('Mul', [groupScores, b.f32Scalar(0)]), groupIdx, ones], { axis: 1 });
    const expertMask = b.op1('Reshape', [b.op1('Expand', [b.op1('Unsqueeze', [groupMask, b.i64([-1])]), b.i64([1, G, E / G])]), b.i64([-1, E])]);
    const keep = b.op1('Greater', [expertMask, b.f32Scalar(0.5)]);
    choice = b.op1('Where', [keep, choice, b.f32Scalar(-Infinity)]);
  }
  const [, experts] = b.op('TopK', [choice, b.i64([k])], { axis: -1 }, 2);
  let weights = b.op1('GatherElements', [scores, experts], { axis: 1 });
  if (k > 1) {
    const denom = b.op1('Add', [b.op1('ReduceSum', [weights, b.i64([-1])], { keepdims: 1 }), b.f32Scalar(1e-20)]);
    weights = b.op1('Div', [weights, denom]);
  }
  if (scale !== 1) weights = b.op1('Mul', [weights, b.f32Scalar(scale)]);
  return { experts, weights, zeros };
}

/** Stacks the experts' weights as one HF-layout matrix: rows of expert e at [e·rows, (e+1)·rows). */
async function stackExperts(p: MoeLayerInput, proj: string, rows: number, cols: number): Promise<Float32Array> {
  const E = p.cfg.num_experts;
  const out = new Float32Array(E * rows * cols);
  for (let e = 0; e < E; e++) out.set(await readTensor(p.src, `${p.prefix}.experts.${e}.${proj}.weight`, [rows, cols]), e * rows * cols);
  return out;
}

/** down_proj of every expert side by side: [H, E·I] (so y = Σ_e w_e · down_e(a_e) is one MatMul). */
async function concatDown(p: MoeLayerInput, H: number, I: number): Promise<Float32Array> {
  const E = p.cfg.num_experts;
  const out = new Float32Array(H * E * I);
  for (let e = 0; e < E; e++) {
    const w = await readTensor(p.src, `${p.prefix}.experts.${e}.down_proj.weight`, [H, I]);
    for (let h = 0; h < H; h++) out.set(w.subarray(h * I, (h + 1) * I), h * E * I + e * I);
  }
  return out;
}

/** All experts computed, weighted by a dense [n, E] routing matrix (zeros off the chosen experts). */
async function denseExperts(b: GraphBuilder, x2d: string, p: MoeLayerInput): Promise<string> {
  const { cfg } = p;
  const E = cfg.num_experts;
  const H = cfg.hidden_size;
  const I = cfg.moe_intermediate_size;
  const r = await route(b, x2d, p, cfg.routed_scaling_factor);
  const dense = b.op1('ScatterElements', [r.zeros, r.experts, r.weights], { axis: 1 }); // [n, E]
  const g = linear(b, x2d, { name: `${p.prefix}.experts.gate_proj.stacked`, data: await stackExperts(p, 'gate_proj', I, H), out: E * I, in: H }, p.quant);
  const u = linear(b, x2d, { name: `${p.prefix}.experts.up_proj.stacked`, data: await stackExperts(p, 'up_proj', I, H), out: E * I, in: H }, p.quant);
  const act = b.op1('Mul', [b.op1('Mul', [g, b.op1('Sigmoid', [g])]), u]);
  const weighted = b.op1('Mul', [b.op1('Reshape', [act, b.i64([-1, E, I])]), b.op1('Unsqueeze', [dense, b.i64([-1])])]);
  const flat = b.op1('Reshape', [weighted, b.i64([-1, E * I])]);
  return linear(b, flat, { name: `${p.prefix}.experts.down_proj.stacked`, data: await concatDown(p, H, I), out: H, in: E * I }, p.quant);
}

export async function moeLayer(b: GraphBuilder, p: MoeLayerInput): Promise<string> {
  const { cfg } = p;
  const x2d = b.op1('Reshape', [p.x, b.i64([-1, cfg.hidden_size])]);
  let y: string;
  if (p.implementation === 'dense') y = await denseExperts(b, x2d, p);
  else throw new Error('ort-moe: not implemented yet');
  if (cfg.num_shared_experts > 0) {
    const shared = await p.swiglu(x2d, `${p.prefix}.shared_experts`, cfg.moe_intermediate_size * cfg.num_shared_experts);
    y = b.op1('Add', [y, shared]);
  }
  return b.op1('Reshape', [y, b.op1('Shape', [p.x])]);
}
