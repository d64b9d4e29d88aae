/**
 * How the routed experts' weights are stored in a package and what ORT kernel computes them. One projection of
 * all experts ([E, rows, cols], cols the reduction axis) is accumulated expert by expert (chunks for the weight
 * sink, so a checkpoint is never held whole) and then emitted as the MoE or QMoE kernel's weight inputs.
 */
import { DT, type GraphBuilder } from './onnx-builder.ts';
import { packInt4, packUnsigned, quantizeBlocks, requantScales } from './quant-math.ts';
import { toFloat16Bytes, type QuantOptions } from './quantize.ts';

/**
 * - fp32 / fp16: MoE on fp32 weights (fp16 stored, Cast folded at load: the fp16 MoE kernel returns zeros in ORT
 *   1.30 on CPU and WASM);
 * - qmoe8: uint8 row-wise (zero point 128) → QMoE 8-bit (int8 kernel);
 * - dq8 / dq4: INT8 row-wise / INT4 block-wise → DequantizeLinear folded to fp32 at load → MoE (float kernel);
 * - dq4-qmoe8: INT4 block-wise at rest → DequantizeLinear → QuantizeLinear to uint8 row-wise, folded at load →
 *   QMoE 8-bit (int8 kernel for int4 packages);
 * - qmoe4: uint8-packed 4-bit block-wise → QMoE 4-bit (int4 in memory: the matmulnbits layout). QMoE's block-wise
 *   4-bit path dequantizes every selected expert on every call and runs several times slower.
 */
export type ExpertEncoding = 'fp32' | 'fp16' | 'qmoe8' | 'dq8' | 'dq4' | 'dq4-qmoe8' | 'qmoe4';

export function expertEncoding(q: QuantOptions): ExpertEncoding {
  if (q.dtype === 'fp32' || q.dtype === 'fp16') return q.dtype;
  const float = (q.kernel ?? 'int8') === 'float';
  if (q.dtype === 'int8') return float ? 'dq8' : 'qmoe8';
  if (q.int4Layout === 'matmulnbits') return 'qmoe4';
  return float ? 'dq4' : 'dq4-qmoe8';
}

/** Whether the encoding runs the QMoE kernel (else MoE on fp32 weights). */
export function usesQmoe(enc: ExpertEncoding): boolean {
  return enc === 'qmoe8' || enc === 'dq4-qmoe8' || enc === 'qmoe4';
}

const f32Bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export class ExpertTensor {
  private readonly chunks: Uint8Array[] = [];
  private readonly scaleChunks: Uint8Array[] = [];
  private readonly requant: Uint8Array[] = [];
  private readonly bits: 4 | 8;
  /** Scale block along cols (cols itself: one scale per row). */
  private readonly block: number;
  /** Block scales (QMoE's block_size attribute set, scales [E, rows, cols / block] even when that is 1). */
  private readonly blockwise: boolean;

  /** `block`: the int4 block (0 or one that does not divide cols: one scale per row). */
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly enc: ExpertEncoding,
    block: number,
    private readonly search: boolean,
  ) {
    this.bits = enc === 'qmoe8' || enc === 'dq8' ? 8 : 4;
    this.blockwise = this.bits === 4 && block > 0 && cols % block === 0;
    this.block = this.blockwise ? block : cols;
  }

  add(w: Float32Array): void {
    const { enc } = this;
    if (enc === 'fp32') return void this.chunks.push(f32Bytes(w));
    if (enc === 'fp16') return void this.chunks.push(toFloat16Bytes(w));
    const q = quantizeBlocks(w, this.rows, this.cols, this.bits, this.block, this.search);
    this.scaleChunks.push(f32Bytes(q.scales));
    if (enc === 'qmoe8' || enc === 'qmoe4') this.chunks.push(packUnsigned(q.values, this.bits));
    else if (enc === 'dq8') this.chunks.push(new Uint8Array(q.values.buffer));
    else this.chunks.push(packInt4(q.values));
    if (enc === 'dq4-qmoe8') this.requant.push(f32Bytes(requantScales(q)));
  }

  private put(b: GraphBuilder, name: string, dt: number, dims: number[], chunks: Uint8Array[]) {
    return b.addInitializer(b.sink.put(name, dt, dims, chunks));
  }

  /** DequantizeLinear of the INT8/INT4 blocks along the last axis. */
  private dequantized(b: GraphBuilder, name: string, E: number): string {
    const { rows, cols, block, bits } = this;
    const dt = bits === 8 ? DT.INT8 : DT.INT4;
    return b.op1(
      'DequantizeLinear',
      [
        this.put(b, `${name}.int${bits}`, dt, [E, rows, cols], this.chunks),
        this.put(b, `${name}.scale`, DT.FLOAT, [E, rows, cols / block], this.scaleChunks),
      ],
      { axis: 2, block_size: block },
    );
  }

  /** fp32 weights [E, rows, cols] for the MoE kernel. */
  float(b: GraphBuilder, name: string, E: number): string {
    const dims = [E, this.rows, this.cols];
    if (this.enc === 'fp32') return this.put(b, name, DT.FLOAT, dims, this.chunks);
    if (this.enc === 'fp16') {
      const half = this.put(b, `${name}.fp16`, DT.FLOAT16, dims, this.chunks);
      return b.op1('Cast', [half], { to: DT.FLOAT });
    }
    return this.dequantized(b, name, E);
  }

  /** [weights, scales] for the QMoE kernel, and its block_size attribute (0: row-wise). */
  quantized(b: GraphBuilder, name: string, E: number): [string, string, number] {
    const { rows, cols, block, enc } = this;
    if (enc === 'dq4-qmoe8') {
      // Row-wise uint8 (zero point 128) from the decoded int4 blocks: QuantizeLinear blocked over a whole row.
      const scale3 = this.put(b, `${name}.scale8.q`, DT.FLOAT, [E, rows, 1], this.requant);
      const zeros = new Uint8Array(E * rows).fill(128);
      const zp = this.put(b, `${name}.zp8`, DT.UINT8, [E, rows, 1], [zeros]);
      const weights = b.op1('QuantizeLinear', [this.dequantized(b, name, E), scale3, zp], {
        axis: 2,
        block_size: cols,
      });
      return [weights, this.put(b, `${name}.scale8`, DT.FLOAT, [E, rows], this.requant), 0];
    }
    const packed = (cols * this.bits) / 8;
    const weights = this.put(b, `${name}.q${this.bits}`, DT.UINT8, [E, rows, packed], this.chunks);
    const { blockwise } = this;
    const scales = this.put(
      b,
      `${name}.scales`,
      DT.FLOAT,
      blockwise ? [E, rows, cols / block] : [E, rows],
      this.scaleChunks,
    );
    return [weights, scales, blockwise ? block : 0];
  }
}
