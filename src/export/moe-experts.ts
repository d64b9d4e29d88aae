/**
 * How the routed experts' weights are stored in a package and what ORT kernel computes them. One projection of
 * all experts ([E, rows, cols], cols the reduction axis) is streamed into the weight sink expert by expert:
 * each expert's matrix is encoded and written as it arrives, so memory holds one expert's matrices plus the
 * fp32 scales (a quarter of the int4 bytes at block 32, far less for 8-bit rows), whatever the expert count. The stored
 * tensors then become the MoE or QMoE kernel's weight inputs.
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
  private readonly bits: 4 | 8;
  /** Scale block along cols (cols itself: one scale per row). */
  private readonly block: number;
  /** Block scales (QMoE's block_size attribute set, scales [E, rows, cols / block] even when that is 1). */
  private readonly blockwise: boolean;
  /** Initializer names once stored: the weights, their scales, and dq4-qmoe8's 8-bit row scales. */
  private weights = '';
  private scales = '';
  private requant: Uint8Array[] = [];

  /** `block`: the int4 block (0 or one that does not divide cols: one scale per row). */
  constructor(
    readonly name: string,
    readonly experts: number,
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

  /**
   * Encodes and writes the experts' matrices ([rows, cols] fp32 each, in expert order) one at a time, then the
   * scales; the graph inputs come from float() or quantized().
   */
  async store(b: GraphBuilder, matrices: AsyncIterable<Float32Array>): Promise<void> {
    const { enc, name, rows, cols, experts: E } = this;
    const dims = [E, rows, cols];
    const put = async (n: string, dt: number, shape: number[], chunks: AsyncIterable<Uint8Array>) =>
      b.addInitializer(await b.sink.putStream(n, dt, shape, chunks));
    const count = async function* (): AsyncGenerator<Float32Array> {
      let n = 0;
      for await (const m of matrices) {
        if (m.length !== rows * cols)
          throw new Error(`${name}: expert ${n} has ${m.length} values`);
        n++;
        yield m;
      }
      if (n !== E) throw new Error(`${name}: ${n} experts, expected ${E}`);
    };
    if (enc === 'fp32' || enc === 'fp16') {
      const half = enc === 'fp16';
      const encoded = async function* () {
        for await (const m of count()) yield half ? toFloat16Bytes(m) : f32Bytes(m);
      };
      this.weights = await put(
        half ? `${name}.fp16` : name,
        half ? DT.FLOAT16 : DT.FLOAT,
        dims,
        encoded(),
      );
      return;
    }
    const scaleChunks: Uint8Array[] = [];
    const requant: Uint8Array[] = [];
    const { bits, block, search } = this;
    const encoded = async function* () {
      for await (const m of count()) {
        const q = quantizeBlocks(m, rows, cols, bits, block, search);
        scaleChunks.push(f32Bytes(q.scales));
        if (enc === 'dq4-qmoe8') requant.push(f32Bytes(requantScales(q)));
        if (enc === 'qmoe8' || enc === 'qmoe4') yield packUnsigned(q.values, bits);
        else if (enc === 'dq8')
          yield new Uint8Array(q.values.buffer, q.values.byteOffset, q.values.length);
        else yield packInt4(q.values);
      }
    };
    if (usesQmoe(enc) && enc !== 'dq4-qmoe8') {
      this.weights = await put(
        `${name}.q${bits}`,
        DT.UINT8,
        [E, rows, (cols * bits) / 8],
        encoded(),
      );
      const scaleDims = this.blockwise ? [E, rows, cols / block] : [E, rows];
      this.scales = b.addInitializer(
        b.sink.put(`${name}.scales`, DT.FLOAT, scaleDims, scaleChunks),
      );
    } else {
      const dt = bits === 8 ? DT.INT8 : DT.INT4;
      this.weights = await put(`${name}.int${bits}`, dt, dims, encoded());
      const scaleDims = [E, rows, cols / block];
      this.scales = b.addInitializer(b.sink.put(`${name}.scale`, DT.FLOAT, scaleDims, scaleChunks));
    }
    this.requant = requant;
  }

  private stored(): void {
    if (!this.weights) throw new Error(`${this.name}: store() the experts first`);
  }

  /** DequantizeLinear of the INT8/INT4 blocks along the last axis. */
  private dequantized(b: GraphBuilder): string {
    return b.op1('DequantizeLinear', [this.weights, this.scales], {
      axis: 2,
      block_size: this.block,
    });
  }

  /** fp32 weights [E, rows, cols] for the MoE kernel. */
  float(b: GraphBuilder): string {
    this.stored();
    if (this.enc === 'fp32') return this.weights;
    if (this.enc === 'fp16') return b.op1('Cast', [this.weights], { to: DT.FLOAT });
    return this.dequantized(b);
  }

  /** [weights, scales] for the QMoE kernel, and its block_size attribute (0: row-wise). */
  quantized(b: GraphBuilder): [string, string, number] {
    this.stored();
    const { name, rows, cols, experts: E } = this;
    if (this.enc === 'dq4-qmoe8') {
      // Row-wise uint8 (zero point 128) from the decoded int4 blocks: QuantizeLinear blocked over a whole row.
      const put = (n: string, dt: number, dims: number[], chunks: Uint8Array[]) =>
        b.addInitializer(b.sink.put(n, dt, dims, chunks));
      const scale3 = put(`${name}.scale8.q`, DT.FLOAT, [E, rows, 1], this.requant);
      const zp = put(`${name}.zp8`, DT.UINT8, [E, rows, 1], [new Uint8Array(E * rows).fill(128)]);
      const weights = b.op1('QuantizeLinear', [this.dequantized(b), scale3, zp], {
        axis: 2,
        block_size: cols,
      });
      return [weights, put(`${name}.scale8`, DT.FLOAT, [E, rows], this.requant), 0];
    }
    return [this.weights, this.scales, this.blockwise ? this.block : 0];
  }
}
