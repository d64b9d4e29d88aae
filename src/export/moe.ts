/**
 * The LLaDA2 MoE layer: sigmoid router with expert bias and group-limited top-k (docs/model-graph.md §3),
 * experts computed either densely (all experts, tiny configs only) or with ORT's sparse MoE kernel.
 */
import type { Llada2Config } from '../model/config.ts';
import { DT, MS_DOMAIN, type GraphBuilder } from './onnx-builder.ts';
import { linear, type QuantOptions } from './quantize.ts';
import { ExpertTensor, expertEncoding, usesQmoe } from './moe-experts.ts';
import { readTensor, type TensorSource } from './tensor-source.ts';

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
 * The official code renormalises whenever top-k > 1, whatever norm_topk_prob says (docs/model-graph.md §3).
 */
export async function route(
  b: GraphBuilder,
  x2d: string,
  p: MoeLayerInput,
  scale: number,
): Promise<Routing> {
  const { cfg } = p;
  const E = cfg.num_experts;
  const H = cfg.hidden_size;
  const G = cfg.n_group;
  const k = cfg.num_experts_per_tok;
  const gate = await readTensor(p.src, `${p.prefix}.gate.weight`, [E, H]);
  // Router in fp32 regardless of the package dtype (router_dtype fp32).
  const logits = linear(
    b,
    x2d,
    { name: `${p.prefix}.gate.weight`, data: gate, out: E, in: H },
    { ...p.quant, dtype: 'fp32' },
  );
  const scores = b.op1('Sigmoid', [logits]);
  let choice = scores;
  if (p.src.has(`${p.prefix}.gate.expert_bias`)) {
    const bias = await readTensor(p.src, `${p.prefix}.gate.expert_bias`, [E]);
    choice = b.op1('Add', [
      scores,
      b.addInitializer(
        b.sink.put(
          `${p.prefix}.gate.expert_bias`,
          DT.FLOAT,
          [E],
          [new Uint8Array(bias.buffer, bias.byteOffset, bias.byteLength)],
        ),
      ),
    ]);
  }
  const zeros = b.op1('Mul', [scores, b.f32Scalar(0)]);
  if (G > 1) {
    // Group score = sum of the top-2 biased scores in each group; keep the best topk_group groups.
    const grouped = b.op1('Reshape', [choice, b.i64([-1, G, E / G])]);
    const [top2] = b.op('TopK', [grouped, b.i64([2])], { axis: -1 }, 2);
    const groupScores = b.op1('ReduceSum', [top2, b.i64([-1])], { keepdims: 0 });
    const [groupVals, groupIdx] = b.op(
      'TopK',
      [groupScores, b.i64([cfg.topk_group])],
      { axis: -1 },
      2,
    );
    const ones = b.op1('Add', [b.op1('Mul', [groupVals, b.f32Scalar(0)]), b.f32Scalar(1)]);
    const groupMask = b.op1(
      'ScatterElements',
      [b.op1('Mul', [groupScores, b.f32Scalar(0)]), groupIdx, ones],
      { axis: 1 },
    );
    const expertMask = b.op1('Reshape', [
      b.op1('Expand', [b.op1('Unsqueeze', [groupMask, b.i64([-1])]), b.i64([1, G, E / G])]),
      b.i64([-1, E]),
    ]);
    const keep = b.op1('Greater', [expertMask, b.f32Scalar(0.5)]);
    choice = b.op1('Where', [keep, choice, b.f32Scalar(-Infinity)]);
  }
  const [, experts] = b.op('TopK', [choice, b.i64([k])], { axis: -1 }, 2);
  let weights = b.op1('GatherElements', [scores, experts], { axis: 1 });
  if (k > 1) {
    const denom = b.op1('Add', [
      b.op1('ReduceSum', [weights, b.i64([-1])], { keepdims: 1 }),
      b.f32Scalar(1e-20),
    ]);
    weights = b.op1('Div', [weights, denom]);
  }
  if (scale !== 1) weights = b.op1('Mul', [weights, b.f32Scalar(scale)]);
  return { experts, weights, zeros };
}

/** Stacks the experts' weights as one HF-layout matrix: rows of expert e at [e·rows, (e+1)·rows). */
async function stackExperts(
  p: MoeLayerInput,
  proj: string,
  rows: number,
  cols: number,
): Promise<Float32Array> {
  const E = p.cfg.num_experts;
  const out = new Float32Array(E * rows * cols);
  for (let e = 0; e < E; e++)
    out.set(
      await readTensor(p.src, `${p.prefix}.experts.${e}.${proj}.weight`, [rows, cols]),
      e * rows * cols,
    );
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
  const g = linear(
    b,
    x2d,
    {
      name: `${p.prefix}.experts.gate_proj.stacked`,
      data: await stackExperts(p, 'gate_proj', I, H),
      out: E * I,
      in: H,
    },
    p.quant,
  );
  const u = linear(
    b,
    x2d,
    {
      name: `${p.prefix}.experts.up_proj.stacked`,
      data: await stackExperts(p, 'up_proj', I, H),
      out: E * I,
      in: H,
    },
    p.quant,
  );
  const act = b.op1('Mul', [b.op1('Mul', [g, b.op1('Sigmoid', [g])]), u]);
  const weighted = b.op1('Mul', [
    b.op1('Reshape', [act, b.i64([-1, E, I])]),
    b.op1('Unsqueeze', [dense, b.i64([-1])]),
  ]);
  const flat = b.op1('Reshape', [weighted, b.i64([-1, E * I])]);
  return linear(
    b,
    flat,
    {
      name: `${p.prefix}.experts.down_proj.stacked`,
      data: await concatDown(p, H, I),
      out: H,
      in: E * I,
    },
    p.quant,
  );
}

/** Interleaves one expert's gate/up rows (row 2i = gate[i], row 2i+1 = up[i]): the CPU MoE kernel's fused SwiGLU layout. */
function interleaveGateUp(
  gate: Float32Array,
  up: Float32Array,
  I: number,
  H: number,
): Float32Array {
  const out = new Float32Array(2 * I * H);
  for (let i = 0; i < I; i++) {
    out.set(gate.subarray(i * H, (i + 1) * H), 2 * i * H);
    out.set(up.subarray(i * H, (i + 1) * H), (2 * i + 1) * H);
  }
  return out;
}

/**
 * Only the chosen experts computed, by ORT's com.microsoft MoE (fp32 weights) or QMoE (uint8 weights with an
 * implicit zero point, fp32 activations); moe-experts.ts has the weight encodings. The kernels route by
 * softmax/top-k over their router input; feeding log(w) on the chosen experts and -inf elsewhere makes that
 * reproduce LLaDA2's sigmoid group routing exactly, and routed_scaling_factor is folded into the down projections.
 */
async function sparseExperts(b: GraphBuilder, x2d: string, p: MoeLayerInput): Promise<string> {
  const { cfg, quant } = p;
  const E = cfg.num_experts;
  const H = cfg.hidden_size;
  const I = cfg.moe_intermediate_size;
  const k = cfg.num_experts_per_tok;
  const r = await route(b, x2d, p, 1);
  const router = b.op1(
    'ScatterElements',
    [b.op1('Add', [r.zeros, b.f32Scalar(-Infinity)]), r.experts, b.op1('Log', [r.weights])],
    { axis: 1 },
  );
  const enc = expertEncoding(quant);
  const search = quant.scaleSearch ?? true;
  // QMoE takes one block size for both projections: block-wise only when it divides both widths.
  const block = H % quant.blockSize === 0 && I % quant.blockSize === 0 ? quant.blockSize : 0;
  const name = `${p.prefix}.experts`;
  const fc1 = new ExpertTensor(`${name}.fc1`, E, 2 * I, H, enc, block, search);
  const fc2 = new ExpertTensor(`${name}.fc2`, E, H, I, enc, block, search);
  // One expert at a time, in two passes (fc1 = gate/up of every expert, then fc2 = down of every expert), each
  // streamed into the sink: memory stays at one expert's matrices whatever the expert count and encoding.
  async function* fc1Experts(): AsyncGenerator<Float32Array> {
    for (let e = 0; e < E; e++) {
      const pre = `${p.prefix}.experts.${e}`;
      const gate = await readTensor(p.src, `${pre}.gate_proj.weight`, [I, H]);
      const up = await readTensor(p.src, `${pre}.up_proj.weight`, [I, H]);
      yield interleaveGateUp(gate, up, I, H);
    }
  }
  async function* fc2Experts(): AsyncGenerator<Float32Array> {
    for (let e = 0; e < E; e++) {
      const down = await readTensor(p.src, `${p.prefix}.experts.${e}.down_proj.weight`, [H, I]);
      yield down.map((v) => v * cfg.routed_scaling_factor);
    }
  }
  await fc1.store(b, fc1Experts());
  await fc2.store(b, fc2Experts());
  const attrs = {
    k,
    activation_type: 'swiglu',
    swiglu_fusion: 1,
    activation_alpha: { float: 1 },
    activation_beta: { float: 0 },
    normalize_routing_weights: 0,
  };
  if (!usesQmoe(enc)) {
    const inputs = [x2d, router, fc1.float(b), '', fc2.float(b)];
    return unnormalisedTop1(b, r, b.op1('MoE', inputs, attrs, MS_DOMAIN), k);
  }
  const [w1, s1, blockSize] = fc1.quantized(b);
  const [w2, s2] = fc2.quantized(b);
  const y = b.op1(
    'QMoE',
    [x2d, router, w1, s1, '', w2, s2, ''],
    {
      ...attrs,
      expert_weight_bits: enc === 'qmoe4' ? 4 : 8,
      ...(blockSize ? { block_size: blockSize } : {}),
    },
    MS_DOMAIN,
  );
  return unnormalisedTop1(b, r, y, k);
}

/**
 * With top-k = 1 the official code does not renormalise (the weight is the raw sigmoid score), but the
 * kernels' softmax over one expert always gives 1: scale the output by the score instead (exact for k = 1).
 */
function unnormalisedTop1(b: GraphBuilder, r: Routing, y: string, k: number): string {
  return k === 1 ? b.op1('Mul', [y, r.weights]) : y;
}

export async function moeLayer(b: GraphBuilder, p: MoeLayerInput): Promise<string> {
  const { cfg } = p;
  const x2d = b.op1('Reshape', [p.x, b.i64([-1, cfg.hidden_size])]);
  let y: string;
  if (p.implementation === 'dense') y = await denseExperts(b, x2d, p);
  else y = await sparseExperts(b, x2d, p);
  if (cfg.num_shared_experts > 0) {
    const shared = await p.swiglu(
      x2d,
      `${p.prefix}.shared_experts`,
      cfg.moe_intermediate_size * cfg.num_shared_experts,
    );
    y = b.op1('Add', [y, shared]);
  }
  return b.op1('Reshape', [y, b.op1('Shape', [p.x])]);
}
