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
  intermediate: number;
  vocab: number;
  eps: number;
}

/** Training names and shapes, in a fixed order (the order of the optimiser state in checkpoints). */
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
      [`l${l}.gate`, [c.hidden, c.intermediate]],
      [`l${l}.up`, [c.hidden, c.intermediate]],
      [`l${l}.down`, [c.intermediate, c.hidden]],
    );
  }
  out.push(['norm', [c.hidden]], ['lm_head', [c.hidden, c.vocab]]);
  return out;
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
