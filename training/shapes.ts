/**
 * @module
 * The demo model's shape, its parameters' training names and shapes, and their seeded initial values: plain
 * data with no tfjs, so checkpoints and option checks load without the tensor runtime.
 */
import { Rng, streamSeed } from '../src/export/tiny/rng.ts';

export interface DemoModelConfig {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Leading dims of each head that RoPE rotates (int(head_dim × partial_rotary_factor)). */
  rotaryDim: number;
  ropeTheta: number;
  /** Width of the dense SwiGLU of layers [0, denseLayers). */
  intermediate: number;
  vocab: number;
  eps: number;
  /** Layers [0, denseLayers) are dense (first_k_dense_replace); the rest are MoE. */
  denseLayers: number;
  /** Routed experts per MoE layer (num_experts). */
  experts: number;
  /** Experts each token uses (num_experts_per_tok). */
  expertsPerTok: number;
  /** Expert groups (n_group) and the groups a token may use (topk_group). */
  groups: number;
  topkGroup: number;
  /** Width of each routed expert's SwiGLU (moe_intermediate_size). */
  moeIntermediate: number;
  /** Ungated shared experts (num_shared_experts); their SwiGLU is moeIntermediate × this wide. */
  sharedExperts: number;
  routedScaling: number;
}

export function isMoeLayer(c: DemoModelConfig, layer: number): boolean {
  return layer >= c.denseLayers;
}

/** Indices of the MoE layers. */
export function moeLayers(c: DemoModelConfig): number[] {
  return Array.from({ length: c.layers }, (_, l) => l).filter((l) => isMoeLayer(c, l));
}

/**
 * Training names and shapes, in a fixed order (the order of the optimiser state in checkpoints). Linear weights
 * are [in, out]. A MoE layer holds its experts side by side: `experts.gate`/`experts.up` [hidden, E·I] with
 * expert e in columns [e·I, (e+1)·I), `experts.down` [E·I, hidden] with expert e in rows [e·I, (e+1)·I).
 */
export function paramShapes(c: DemoModelConfig): [string, number[]][] {
  const out: [string, number[]][] = [['embed', [c.vocab, c.hidden]]];
  for (let l = 0; l < c.layers; l++) {
    out.push(
      [`l${l}.in_norm`, [c.hidden]],
      [`l${l}.q`, [c.hidden, c.heads * c.headDim]],
      [`l${l}.k`, [c.hidden, c.kvHeads * c.headDim]],
      [`l${l}.v`, [c.hidden, c.kvHeads * c.headDim]],
      [`l${l}.q_norm`, [c.headDim]],
      [`l${l}.k_norm`, [c.headDim]],
      [`l${l}.o`, [c.heads * c.headDim, c.hidden]],
      [`l${l}.post_norm`, [c.hidden]],
    );
    if (!isMoeLayer(c, l)) {
      out.push(
        [`l${l}.gate`, [c.hidden, c.intermediate]],
        [`l${l}.up`, [c.hidden, c.intermediate]],
        [`l${l}.down`, [c.intermediate, c.hidden]],
      );
      continue;
    }
    const routed = c.experts * c.moeIntermediate;
    out.push(
      [`l${l}.router`, [c.hidden, c.experts]],
      [`l${l}.experts.gate`, [c.hidden, routed]],
      [`l${l}.experts.up`, [c.hidden, routed]],
      [`l${l}.experts.down`, [routed, c.hidden]],
    );
    if (c.sharedExperts > 0) {
      const shared = c.sharedExperts * c.moeIntermediate;
      out.push(
        [`l${l}.shared.gate`, [c.hidden, shared]],
        [`l${l}.shared.up`, [c.hidden, shared]],
        [`l${l}.shared.down`, [shared, c.hidden]],
      );
    }
  }
  out.push(['norm', [c.hidden]], ['lm_head', [c.hidden, c.vocab]]);
  return out;
}

/** Parameters with their element counts: the total, and what one token uses (chosen and shared experts only). */
export function paramCounts(c: DemoModelConfig): { total: number; active: number } {
  let total = 0;
  let inactive = 0;
  const perExpert = 3 * c.hidden * c.moeIntermediate;
  for (const [name, shape] of paramShapes(c)) {
    total += shape.reduce((a, b) => a * b, 1);
    if (/\.experts\.gate$/.test(name)) inactive += (c.experts - c.expertsPerTok) * perExpert;
  }
  return { total, active: total - inactive };
}

const INIT_STD = 0.02;

/** Seeded init as plain arrays: norms 1, weights N(0, 0.02²), residual outputs scaled by 1/√(2·layers). */
export function initParamArrays(c: DemoModelConfig, seed: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (/norm$/.test(name)) data.fill(1);
    else {
      const std = /\.(o|down)$/.test(name) ? INIT_STD / Math.sqrt(2 * c.layers) : INIT_STD;
      const rng = new Rng(streamSeed(seed, name));
      for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    }
    out.set(name, data);
  }
  return out;
}
