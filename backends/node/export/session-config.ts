/**
 * The ORT session settings a package's weight encodings rely on, written into its manifest
 * (graph.session_config) so every runtime creates the session the same way.
 */
import {
  embeddingDtype,
  foldsQuantizedWeights,
  type QuantOptions,
} from '../../../src/export/quantize.ts';
import { expertEncoding, usesQmoe } from '../../../src/export/moe-experts.ts';

/** ORT's default: constant folding skips any node whose output would exceed 1 GiB. */
const ORT_FOLDING_LIMIT = 2 ** 30;

/** Quantized experts above this size are not prepacked (see sessionConfig). */
const EXPERT_PREPACK_LIMIT = 4 * 2 ** 30;

export interface PackageShape {
  vocab: number;
  hidden: number;
  /** Layers whose routed experts run on the sparse MoE/QMoE kernels (0 for dense MoE). */
  sparseMoeLayers: number;
  experts: number;
  moeIntermediate: number;
}

/**
 * - Weights behind DequantizeLinear/QuantizeLinear (int8 on the float kernel, int4 in the dq layout) are folded
 *   when the session is created instead of running every forward: `session.disable_quant_qdq`.
 * - Folding skips any node whose output passes ORT's 1 GiB limit, which would leave that weight to be
 *   converted again on every forward. The folded fp32 tensors are the fp16 embedding table (Cast), the head
 *   unless it is fp32 or stays integer (int8 kernel, MatMulNBits), and one projection of one layer's experts
 *   [E, 2·I, H] unless they are fp32 or stored in QMoE's own layout: for LLaDA2.0-mini up to 2 GiB. The limit
 *   is raised to the largest of them. (The dense layers' matrices are far smaller.)
 * - onnxruntime 1.30's CPU QMoE kernel prepacks its experts into a second, wider copy (measured: 1.3 GiB of
 *   memory per LLaDA2.0-mini layer for 0.5 GiB of int4 weights) for little speed; past 4 GiB of QMoE experts
 *   (as held in memory: 8-bit, or 4-bit in the matmulnbits layout) prepacking is turned off, so a 10 GB
 *   package serves in about its own size (dense MatMuls then pack their weights on each run: slower, but the
 *   model fits).
 */
export function sessionConfig(q: QuantOptions, shape: PackageShape): Record<string, string> {
  const config: Record<string, string> = {};
  if (foldsQuantizedWeights(q)) config['session.disable_quant_qdq'] = '1';

  const kernel = q.kernel ?? 'int8';
  const head = q.lmHead ?? q.dtype;
  const headStaysEncoded =
    head === 'fp32' ||
    (head === 'int8' && kernel === 'int8') ||
    (head === 'int4' && q.int4Layout === 'matmulnbits' && shape.hidden % q.blockSize === 0);
  const enc = expertEncoding(q);
  const expertsFolded =
    shape.sparseMoeLayers > 0 && enc !== 'fp32' && enc !== 'qmoe8' && enc !== 'qmoe4';
  const folded = [
    embeddingDtype(q) === 'fp16' ? shape.vocab * shape.hidden : 0,
    headStaysEncoded ? 0 : shape.vocab * shape.hidden,
    expertsFolded ? shape.experts * 2 * shape.moeIntermediate * shape.hidden : 0,
  ];
  const largestBytes = 4 * Math.max(...folded);
  if (largestBytes > ORT_FOLDING_LIMIT)
    config['optimization.constant_folding_max_output_size_in_bytes'] = String(largestBytes);

  const bytesPerParameter = !usesQmoe(enc) ? 0 : enc === 'qmoe4' ? 0.5 : 1;
  const expertParameters =
    shape.sparseMoeLayers * shape.experts * 3 * shape.moeIntermediate * shape.hidden;
  if (expertParameters * bytesPerParameter > EXPERT_PREPACK_LIMIT)
    config['session.disable_prepacking'] = '1';
  return config;
}
