/**
 * @module
 * Training parameters ↔ the Hugging Face LLaDA2 layout (docs/model-graph.md §2): official tensor names, linear
 * weights [out, in], q/k/v fused into `attention.query_key_value` in Q, K, V row order, and a config.json with
 * the official llada2_moe keys (first_k_dense_replace = num_hidden_layers: every layer is dense), so
 * backends/node/export/export-package.ts and the float64 oracle read it with no special case.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Checkpoint } from '../backends/node/export/checkpoint.ts';
import { modelDims } from '../src/model/config.ts';
import type { Llada2Config } from '../src/model/config.ts';
import { encodeSafetensors } from '../src/model/safetensors.ts';
import { resolveTinyOptions, tinyConfigJson } from '../src/export/tiny/options.ts';
import type { DemoModelConfig } from './shapes.ts';
import { demoTokenizerConfigJson, demoTokenizerJson } from './vocab.ts';

export interface HfTensor {
  name: string;
  shape: number[];
  data: Float32Array;
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
    denseLayers: c.layers,
    // No MoE layer exists; these only have to be a valid routing shape for the config schema.
    experts: 2,
    expertsPerTok: 1,
    groups: 1,
    topkGroup: 1,
    sharedExperts: 0,
    moeIntermediate: c.intermediate,
  });
  return { ...tinyConfigJson(o), rms_norm_eps: c.eps };
}

/** The demo config a HF config describes; throws when it is not a dense model this trainer can hold. */
export function demoConfigFromHf(cfg: Llada2Config): DemoModelConfig {
  const d = modelDims(cfg);
  if (d.denseLayers < d.layers)
    throw new Error('checkpoint has MoE layers; the demo trainer holds dense models only');
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
  };
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Training arrays → HF tensors, sorted by name. */
export function toHfTensors(c: DemoModelConfig, p: Map<string, Float32Array>): HfTensor[] {
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
      { name: `${hf}.mlp.gate_proj.weight`, shape: [I, H], data: lin(`l${l}.gate`, H, I) },
      { name: `${hf}.mlp.up_proj.weight`, shape: [I, H], data: lin(`l${l}.up`, H, I) },
      { name: `${hf}.mlp.down_proj.weight`, shape: [H, I], data: lin(`l${l}.down`, I, H) },
    );
  }
  out.push(
    { name: 'model.norm.weight', shape: [H], data: get('norm') },
    { name: 'lm_head.weight', shape: [V, H], data: lin('lm_head', H, V) },
  );
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** HF checkpoint → training arrays (the inverse of toHfTensors). */
export async function fromHfCheckpoint(
  ckpt: Checkpoint,
  c: DemoModelConfig,
): Promise<Map<string, Float32Array>> {
  const { hidden: H, heads: nh, kvHeads: nkv, headDim: hd, intermediate: I, vocab: V } = c;
  const read = async (n: string) => (await ckpt.read(n)).data;
  /** HF [out, in] → training [in, out]. */
  const lin = async (n: string, outDim: number, inDim: number) =>
    transpose(await read(n), outDim, inDim);
  const p = new Map<string, Float32Array>();
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
    p.set(`l${l}.gate`, await lin(`${hf}.mlp.gate_proj.weight`, I, H));
    p.set(`l${l}.up`, await lin(`${hf}.mlp.up_proj.weight`, I, H));
    p.set(`l${l}.down`, await lin(`${hf}.mlp.down_proj.weight`, H, I));
  }
  p.set('norm', await read('model.norm.weight'));
  p.set('lm_head', await lin('lm_head.weight', V, H));
  return p;
}

export interface WriteHfOptions {
  maxPositions: number;
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
  const tensors = toHfTensors(c, p).map((t) => ({ ...t, dtype: 'F32' as const }));
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
