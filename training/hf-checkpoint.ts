/**
 * @module
 * Training parameters ↔ the Hugging Face LLaDA2 layout (docs/model-graph.md §2): official tensor names, linear
 * weights [out, in], q/k/v fused into `attention.query_key_value` in Q, K, V row order, MoE layers as
 * `mlp.gate.weight`, `mlp.gate.expert_bias`, `mlp.experts.E.{gate,up,down}_proj` and `mlp.shared_experts.*`,
 * and a config.json with the official llada2_moe keys, so backends/node/export/export-package.ts and the float64
 * oracle read it with no special case.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Checkpoint } from '../backends/node/export/checkpoint.ts';
import { modelDims } from '../src/model/config.ts';
import type { Llada2Config } from '../src/model/config.ts';
import { encodeSafetensors } from '../src/model/safetensors.ts';
import { resolveTinyOptions, tinyConfigJson } from '../src/export/tiny/options.ts';
import { isMoeLayer, moeLayers, type DemoModelConfig } from './shapes.ts';
import { demoTokenizerConfigJson, demoTokenizerJson } from './vocab.ts';

export interface HfTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Expert bias per MoE layer (not trained by gradient; see router.ts). */
export type ExpertBias = Map<number, Float32Array>;

/** Zero bias for every MoE layer of c. */
export function zeroExpertBias(c: DemoModelConfig): ExpertBias {
  return new Map(moeLayers(c).map((l) => [l, new Float32Array(c.experts)]));
}

/** The HF config.json of a demo model (official keys plus eos/mask/pad ids at the end of the vocabulary). */
export function hfConfigJson(c: DemoModelConfig, maxPositions: number): Record<string, unknown> {
  const o = resolveTinyOptions({
    out: '-',
    layers: c.layers,
    hidden: c.hidden,
    heads: c.heads,
    kvHeads: c.kvHeads,
    headDim: c.headDim,
    intermediate: c.intermediate,
    vocab: c.vocab,
    rotaryFactor: c.rotaryDim / c.headDim,
    ropeTheta: c.ropeTheta,
    maxPositions,
    denseLayers: c.denseLayers,
    experts: c.experts,
    expertsPerTok: c.expertsPerTok,
    groups: c.groups,
    topkGroup: c.topkGroup,
    sharedExperts: c.sharedExperts,
    moeIntermediate: c.moeIntermediate,
  });
  return { ...tinyConfigJson(o), routed_scaling_factor: c.routedScaling, rms_norm_eps: c.eps };
}

/** The demo config a HF config describes; throws when it is not a model this trainer can hold. */
export function demoConfigFromHf(cfg: Llada2Config): DemoModelConfig {
  const d = modelDims(cfg);
  if (!cfg.use_qk_norm || cfg.use_qkv_bias || cfg.use_bias || cfg.tie_word_embeddings)
    throw new Error('checkpoint is not a QK-norm, bias-free, untied LLaDA2 model');
  return {
    layers: d.layers,
    hidden: d.hidden,
    heads: d.heads,
    kvHeads: d.kvHeads,
    headDim: d.headDim,
    rotaryDim: d.rotaryDim,
    ropeTheta: cfg.rope_theta,
    intermediate: cfg.intermediate_size,
    vocab: d.vocab,
    eps: cfg.rms_norm_eps,
    denseLayers: d.denseLayers,
    experts: cfg.num_experts,
    expertsPerTok: cfg.num_experts_per_tok,
    groups: cfg.n_group,
    topkGroup: cfg.topk_group,
    moeIntermediate: cfg.moe_intermediate_size,
    sharedExperts: cfg.num_shared_experts,
    routedScaling: cfg.routed_scaling_factor,
  };
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Columns [from, from + count) of a row-major [rows, cols] matrix. */
function columns(data: Float32Array, rows: number, cols: number, from: number, count: number) {
  const out = new Float32Array(rows * count);
  for (let r = 0; r < rows; r++)
    out.set(data.subarray(r * cols + from, r * cols + from + count), r * count);
  return out;
}

/** Training arrays (and the MoE layers' expert bias) → HF tensors, sorted by name. */
export function toHfTensors(
  c: DemoModelConfig,
  p: Map<string, Float32Array>,
  bias: ExpertBias = zeroExpertBias(c),
): HfTensor[] {
  const get = (n: string) => {
    const t = p.get(n);
    if (!t) throw new Error(`parameter ${n} missing`);
    return t;
  };
  /** A [in, out] training weight as HF's [out, in]. */
  const lin = (n: string, inDim: number, outDim: number) => transpose(get(n), inDim, outDim);
  const { hidden: H, heads: nh, kvHeads: nkv, headDim: hd, intermediate: I, vocab: V } = c;
  const out: HfTensor[] = [
    { name: 'model.word_embeddings.weight', shape: [V, H], data: get('embed') },
  ];
  for (let l = 0; l < c.layers; l++) {
    const hf = `model.layers.${l}`;
    const qkv = new Float32Array((nh + 2 * nkv) * hd * H);
    qkv.set(lin(`l${l}.q`, H, nh * hd), 0);
    qkv.set(lin(`l${l}.k`, H, nkv * hd), nh * hd * H);
    qkv.set(lin(`l${l}.v`, H, nkv * hd), (nh + nkv) * hd * H);
    out.push(
      { name: `${hf}.input_layernorm.weight`, shape: [H], data: get(`l${l}.in_norm`) },
      {
        name: `${hf}.attention.query_key_value.weight`,
        shape: [(nh + 2 * nkv) * hd, H],
        data: qkv,
      },
      { name: `${hf}.attention.query_layernorm.weight`, shape: [hd], data: get(`l${l}.q_norm`) },
      { name: `${hf}.attention.key_layernorm.weight`, shape: [hd], data: get(`l${l}.k_norm`) },
      {
        name: `${hf}.attention.dense.weight`,
        shape: [H, nh * hd],
        data: lin(`l${l}.o`, nh * hd, H),
      },
      { name: `${hf}.post_attention_layernorm.weight`, shape: [H], data: get(`l${l}.post_norm`) },
    );
    if (!isMoeLayer(c, l)) {
      out.push(
        { name: `${hf}.mlp.gate_proj.weight`, shape: [I, H], data: lin(`l${l}.gate`, H, I) },
        { name: `${hf}.mlp.up_proj.weight`, shape: [I, H], data: lin(`l${l}.up`, H, I) },
        { name: `${hf}.mlp.down_proj.weight`, shape: [H, I], data: lin(`l${l}.down`, I, H) },
      );
      continue;
    }
    const { experts: E, moeIntermediate: M } = c;
    const b = bias.get(l);
    if (!b || b.length !== E) throw new Error(`expert bias of layer ${l} missing`);
    out.push(
      { name: `${hf}.mlp.gate.weight`, shape: [E, H], data: lin(`l${l}.router`, H, E) },
      { name: `${hf}.mlp.gate.expert_bias`, shape: [E], data: Float32Array.from(b) },
    );
    const gate = get(`l${l}.experts.gate`);
    const up = get(`l${l}.experts.up`);
    const down = get(`l${l}.experts.down`);
    for (let e = 0; e < E; e++) {
      const x = `${hf}.mlp.experts.${e}`;
      out.push(
        {
          name: `${x}.gate_proj.weight`,
          shape: [M, H],
          data: transpose(columns(gate, H, E * M, e * M, M), H, M),
        },
        {
          name: `${x}.up_proj.weight`,
          shape: [M, H],
          data: transpose(columns(up, H, E * M, e * M, M), H, M),
        },
        // Rows [e·M, (e+1)·M) of the [E·M, H] training matrix are expert e's [in, out] down weight.
        {
          name: `${x}.down_proj.weight`,
          shape: [H, M],
          data: transpose(down.slice(e * M * H, (e + 1) * M * H), M, H),
        },
      );
    }
    if (c.sharedExperts > 0) {
      const S = c.sharedExperts * M;
      const x = `${hf}.mlp.shared_experts`;
      out.push(
        { name: `${x}.gate_proj.weight`, shape: [S, H], data: lin(`l${l}.shared.gate`, H, S) },
        { name: `${x}.up_proj.weight`, shape: [S, H], data: lin(`l${l}.shared.up`, H, S) },
        { name: `${x}.down_proj.weight`, shape: [H, S], data: lin(`l${l}.shared.down`, S, H) },
      );
    }
  }
  out.push(
    { name: 'model.norm.weight', shape: [H], data: get('norm') },
    { name: 'lm_head.weight', shape: [V, H], data: lin('lm_head', H, V) },
  );
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** HF checkpoint → training arrays and expert bias (the inverse of toHfTensors). */
export async function fromHfCheckpoint(
  ckpt: Checkpoint,
  c: DemoModelConfig,
): Promise<{ params: Map<string, Float32Array>; bias: ExpertBias }> {
  const { hidden: H, heads: nh, kvHeads: nkv, headDim: hd, intermediate: I, vocab: V } = c;
  const read = async (n: string) => (await ckpt.read(n)).data;
  /** HF [out, in] → training [in, out]. */
  const lin = async (n: string, outDim: number, inDim: number) =>
    transpose(await read(n), outDim, inDim);
  const p = new Map<string, Float32Array>();
  const bias: ExpertBias = new Map();
  p.set('embed', await read('model.word_embeddings.weight'));
  for (let l = 0; l < c.layers; l++) {
    const hf = `model.layers.${l}`;
    const qkv = await read(`${hf}.attention.query_key_value.weight`);
    const rows = (from: number, count: number) =>
      transpose(qkv.slice(from * hd * H, (from + count) * hd * H), count * hd, H);
    p.set(`l${l}.in_norm`, await read(`${hf}.input_layernorm.weight`));
    p.set(`l${l}.q`, rows(0, nh));
    p.set(`l${l}.k`, rows(nh, nkv));
    p.set(`l${l}.v`, rows(nh + nkv, nkv));
    p.set(`l${l}.q_norm`, await read(`${hf}.attention.query_layernorm.weight`));
    p.set(`l${l}.k_norm`, await read(`${hf}.attention.key_layernorm.weight`));
    p.set(`l${l}.o`, await lin(`${hf}.attention.dense.weight`, H, nh * hd));
    p.set(`l${l}.post_norm`, await read(`${hf}.post_attention_layernorm.weight`));
    if (!isMoeLayer(c, l)) {
      p.set(`l${l}.gate`, await lin(`${hf}.mlp.gate_proj.weight`, I, H));
      p.set(`l${l}.up`, await lin(`${hf}.mlp.up_proj.weight`, I, H));
      p.set(`l${l}.down`, await lin(`${hf}.mlp.down_proj.weight`, H, I));
      continue;
    }
    const { experts: E, moeIntermediate: M } = c;
    p.set(`l${l}.router`, await lin(`${hf}.mlp.gate.weight`, E, H));
    bias.set(
      l,
      ckpt.has(`${hf}.mlp.gate.expert_bias`)
        ? await read(`${hf}.mlp.gate.expert_bias`)
        : new Float32Array(E),
    );
    const gate = new Float32Array(H * E * M);
    const up = new Float32Array(H * E * M);
    const down = new Float32Array(E * M * H);
    for (let e = 0; e < E; e++) {
      const x = `${hf}.mlp.experts.${e}`;
      const g = await lin(`${x}.gate_proj.weight`, M, H); // [H, M]
      const u = await lin(`${x}.up_proj.weight`, M, H);
      for (let r = 0; r < H; r++) {
        gate.set(g.subarray(r * M, (r + 1) * M), r * E * M + e * M);
        up.set(u.subarray(r * M, (r + 1) * M), r * E * M + e * M);
      }
      down.set(await lin(`${x}.down_proj.weight`, H, M), e * M * H); // [M, H]
    }
    p.set(`l${l}.experts.gate`, gate);
    p.set(`l${l}.experts.up`, up);
    p.set(`l${l}.experts.down`, down);
    if (c.sharedExperts > 0) {
      const S = c.sharedExperts * M;
      const x = `${hf}.mlp.shared_experts`;
      p.set(`l${l}.shared.gate`, await lin(`${x}.gate_proj.weight`, S, H));
      p.set(`l${l}.shared.up`, await lin(`${x}.up_proj.weight`, S, H));
      p.set(`l${l}.shared.down`, await lin(`${x}.down_proj.weight`, H, S));
    }
  }
  p.set('norm', await read('model.norm.weight'));
  p.set('lm_head', await lin('lm_head.weight', V, H));
  return { params: p, bias };
}

export interface WriteHfOptions {
  maxPositions: number;
  /** The MoE layers' expert bias (default zeros). */
  bias?: ExpertBias;
  /** Goes into the safetensors metadata (how the weights were made). */
  metadata?: Record<string, string>;
}

/** Writes config.json, model.safetensors (F32), tokenizer.json and tokenizer_config.json; each file atomically. */
export async function writeHfCheckpoint(
  dir: string,
  c: DemoModelConfig,
  p: Map<string, Float32Array>,
  opts: WriteHfOptions,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const json = (x: unknown) => `${JSON.stringify(x, null, 2)}\n`;
  const tensors = toHfTensors(c, p, opts.bias).map((t) => ({ ...t, dtype: 'F32' as const }));
  await atomicWrite(join(dir, 'config.json'), json(hfConfigJson(c, opts.maxPositions)));
  await atomicWrite(
    join(dir, 'model.safetensors'),
    encodeSafetensors(tensors, { format: 'pt', ...opts.metadata }),
  );
  await atomicWrite(join(dir, 'tokenizer.json'), json(demoTokenizerJson()));
  await atomicWrite(
    join(dir, 'tokenizer_config.json'),
    json(demoTokenizerConfigJson(opts.maxPositions)),
  );
}

export async function atomicWrite(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
