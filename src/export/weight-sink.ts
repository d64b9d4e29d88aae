/**
 * Where initializer bytes go: inline in the model proto (small models) or appended to an external data
 * file (large ones, so the exporter never holds a whole checkpoint in memory): backends/node/export/external-file-sink.ts.
 */
import type { onnx as OnnxNs } from 'onnx-proto';

export interface WeightSink {
  /** Stores `bytes` as initializer `name`; chunks may be streamed by calling with an iterable. */
  put(
    name: string,
    dataType: number,
    dims: number[],
    chunks: Iterable<Uint8Array>,
  ): OnnxNs.ITensorProto;
  /**
   * Stores an initializer whose bytes arrive over time (one expert at a time, say): an external sink writes
   * each chunk as it comes, so memory stays at one chunk however large the tensor.
   */
  putStream(
    name: string,
    dataType: number,
    dims: number[],
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<OnnxNs.ITensorProto>;
  /** Bytes written so far. */
  readonly bytes: number;
  close(): void;
}

export class InlineSink implements WeightSink {
  bytes = 0;
  put(
    name: string,
    dataType: number,
    dims: number[],
    chunks: Iterable<Uint8Array>,
  ): OnnxNs.ITensorProto {
    const parts = [...chunks];
    const total = parts.reduce((s, p) => s + p.byteLength, 0);
    const raw = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      raw.set(p, off);
      off += p.byteLength;
    }
    this.bytes += total;
    return { name, dataType, dims, rawData: raw };
  }
  async putStream(
    name: string,
    dataType: number,
    dims: number[],
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<OnnxNs.ITensorProto> {
    const parts: Uint8Array[] = [];
    for await (const c of chunks) parts.push(c);
    return this.put(name, dataType, dims, parts);
  }
  close(): void {}
}
