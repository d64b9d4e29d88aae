/**
 * Where initializer bytes go: inline in the model proto (small models) or appended to an external data
 * file (large ones, so the exporter never holds a whole checkpoint in memory; ort-notes.md §2).
 */
import { openSync, writeSync, closeSync } from 'node:fs';
import type { onnx as OnnxNs } from 'onnx-proto';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto as unknown as { onnx: typeof OnnxNs };
const ALIGN = 64;

export interface WeightSink {
  /** Stores `bytes` as initializer `name`; chunks may be streamed by calling with an iterable. */
  put(name: string, dataType: number, dims: number[], chunks: Iterable<Uint8Array>): OnnxNs.ITensorProto;
  /** Bytes written so far. */
  readonly bytes: number;
  close(): void;
}

export class InlineSink implements WeightSink {
  bytes = 0;
  put(name: string, dataType: number, dims: number[], chunks: Iterable<Uint8Array>): OnnxNs.ITensorProto {
    const parts = [...chunks];
    const total = parts.reduce((s, p) => s + p.byteLength, 0);
    const raw = new Uint8Array(total);
    let off = 0;
    for (const p of parts) { raw.set(p, off); off += p.byteLength; }
    this.bytes += total;
    return { name, dataType, dims, rawData: raw };
  }
  close(): void {}
}

export class ExternalFileSink implements WeightSink {
  bytes = 0;
  private readonly fd: number;

  /** @param path file to write; @param location its name relative to the model file */
  constructor(path: string, private readonly location: string) {
    this.fd = openSync(path, 'w');
  }

  put(name: string, dataType: number, dims: number[], chunks: Iterable<Uint8Array>): OnnxNs.ITensorProto {
    const pad = (ALIGN - (this.bytes % ALIGN)) % ALIGN;
    if (pad) { writeSync(this.fd, new Uint8Array(pad)); this.bytes += pad; }
    const offset = this.bytes;
    for (const c of chunks) { writeSync(this.fd, c); this.bytes += c.byteLength; }
    return {
      name, dataType, dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: this.location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(this.bytes - offset) },
      ],
    };
  }

  close(): void {
    closeSync(this.fd);
  }
}
