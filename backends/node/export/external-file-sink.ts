/** A WeightSink that appends initializers to an external data file (64-byte aligned), for models past protobuf's 2 GiB. */
import { openSync, writeSync, closeSync } from 'node:fs';
import type { onnx as OnnxNs } from 'onnx-proto';
import onnxProto from 'onnx-proto';
import type { WeightSink } from '../../../src/export/weight-sink.ts';

const { onnx } = onnxProto as unknown as { onnx: typeof OnnxNs };
const ALIGN = 64;

export class ExternalFileSink implements WeightSink {
  bytes = 0;
  private readonly fd: number;

  /** @param path file to write; @param location its name relative to the model file */
  constructor(
    path: string,
    private readonly location: string,
  ) {
    this.fd = openSync(path, 'w');
  }

  put(
    name: string,
    dataType: number,
    dims: number[],
    chunks: Iterable<Uint8Array>,
  ): OnnxNs.ITensorProto {
    const offset = this.align();
    for (const c of chunks) this.write(c);
    return this.tensor(name, dataType, dims, offset);
  }

  async putStream(
    name: string,
    dataType: number,
    dims: number[],
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<OnnxNs.ITensorProto> {
    const offset = this.align();
    for await (const c of chunks) this.write(c);
    return this.tensor(name, dataType, dims, offset);
  }

  /** Pads to the next aligned offset and returns it. */
  private align(): number {
    const pad = (ALIGN - (this.bytes % ALIGN)) % ALIGN;
    if (pad) this.write(new Uint8Array(pad));
    return this.bytes;
  }

  private write(bytes: Uint8Array): void {
    // writeSync may write less than asked (large buffers): loop until all of it is on disk.
    for (let done = 0; done < bytes.byteLength;) done += writeSync(this.fd, bytes, done);
    this.bytes += bytes.byteLength;
  }

  private tensor(
    name: string,
    dataType: number,
    dims: number[],
    offset: number,
  ): OnnxNs.ITensorProto {
    return {
      name,
      dataType,
      dims,
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
