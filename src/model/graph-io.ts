/**
 * The ONNX graph's input/output contract, shared by the exporter (which builds it) and every runner.
 *
 * One graph serves block-causal prefill, a block against cached K/V, the fused commit step and padded
 * batches, because attention visibility is an explicit input rather than baked into the graph.
 */
import { blockCausalVisibility as decodeVisibility } from '../decode/visibility.ts';

/** int32 [batch, seq]: token ids. */
export const INPUT_IDS = 'input_ids';
/** int32 [batch, seq]: absolute positions (0..L-1 for LLaDA2; RoPE uses them). */
export const POSITION_IDS = 'position_ids';
/** bool [batch, seq, past_seq + seq]: true where query i may attend key j (keys = past then current). */
export const ATTENTION_MASK = 'attention_mask';
/** float32 [batch, kv_heads, past_seq, head_dim]: keys (after QK-norm and RoPE) and values of earlier tokens. */
export const pastKeyName = (layer: number) => `past_key_values.${layer}.key`;
export const pastValueName = (layer: number) => `past_key_values.${layer}.value`;

/** float32 [batch, seq, vocab]: fp32 logits; the logit at position i predicts the token at i (no shift). */
export const LOGITS = 'logits';
/** float32 [batch, seq, k]: the k largest logits per position, descending. */
export const TOPK_LOGITS = 'topk_logits';
/** float32 [batch, seq, k]: their fp32 softmax probabilities over the whole vocabulary. */
export const TOPK_PROBS = 'topk_probs';
/** int32 [batch, seq, k]: their token ids. Ties go to the lower id. */
export const TOPK_INDICES = 'topk_indices';
/** float32 [batch, kv_heads, past_seq + seq, head_dim]: past K/V with this call's appended. */
export const presentKeyName = (layer: number) => `present.${layer}.key`;
export const presentValueName = (layer: number) => `present.${layer}.value`;

export interface TensorSpec {
  name: string;
  dtype: 'int32' | 'bool' | 'float32';
  /** Symbolic dims are strings: batch, seq, past_seq, total_seq. */
  shape: (number | string)[];
}

export interface GraphDims {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  topk: number;
}

export function graphInputs(d: GraphDims): TensorSpec[] {
  const specs: TensorSpec[] = [
    { name: INPUT_IDS, dtype: 'int32', shape: ['batch', 'seq'] },
    { name: POSITION_IDS, dtype: 'int32', shape: ['batch', 'seq'] },
    { name: ATTENTION_MASK, dtype: 'bool', shape: ['batch', 'seq', 'total_seq'] },
  ];
  for (let l = 0; l < d.layers; l++) {
    specs.push({
      name: pastKeyName(l),
      dtype: 'float32',
      shape: ['batch', d.kvHeads, 'past_seq', d.headDim],
    });
    specs.push({
      name: pastValueName(l),
      dtype: 'float32',
      shape: ['batch', d.kvHeads, 'past_seq', d.headDim],
    });
  }
  return specs;
}

export function graphOutputs(d: GraphDims): TensorSpec[] {
  const specs: TensorSpec[] = [
    { name: LOGITS, dtype: 'float32', shape: ['batch', 'seq', d.vocab] },
    { name: TOPK_LOGITS, dtype: 'float32', shape: ['batch', 'seq', d.topk] },
    { name: TOPK_PROBS, dtype: 'float32', shape: ['batch', 'seq', d.topk] },
    { name: TOPK_INDICES, dtype: 'int32', shape: ['batch', 'seq', d.topk] },
  ];
  for (let l = 0; l < d.layers; l++) {
    specs.push({
      name: presentKeyName(l),
      dtype: 'float32',
      shape: ['batch', d.kvHeads, 'total_seq', d.headDim],
    });
    specs.push({
      name: presentValueName(l),
      dtype: 'float32',
      shape: ['batch', d.kvHeads, 'total_seq', d.headDim],
    });
  }
  return specs;
}

/** Visibility for one fresh block-causal window [0, length) (no past). */
export function blockCausalVisibility(length: number, block: number): Uint8Array {
  return decodeVisibility(0, 0, length, block);
}
