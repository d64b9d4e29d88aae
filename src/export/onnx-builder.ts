/** A small typed wrapper over onnx-proto for building graphs from TypeScript (docs/model-graph.md §6). */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import type { WeightSink } from './weight-sink.ts';

const { onnx } = onnxProto as unknown as { onnx: typeof OnnxNs };

/** ONNX TensorProto data types (raw numbers: onnx-proto's enum stops at ONNX 1.10, before INT4). */
export const DT = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  UINT4: 21,
  INT4: 22,
} as const;
export type DataType = (typeof DT)[keyof typeof DT];

export const OPSET = 21;
export const IR_VERSION = 10;
export const MS_DOMAIN = 'com.microsoft';

export type AttrValue = number | string | number[] | { floats: number[] } | { float: number };

export interface ValueSpec {
  name: string;
  dtype: DataType;
  shape: (number | string)[];
}

function attribute(name: string, v: AttrValue): OnnxNs.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.FLOAT, f: v.float };
}

function valueInfo(v: ValueSpec): OnnxNs.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.dtype,
        shape: {
          dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

/**
 * Collects nodes and initializers. Weights go through a WeightSink so large ones can be streamed to an
 * external data file instead of living in memory.
 */
export class GraphBuilder {
  private readonly nodes: OnnxNs.INodeProto[] = [];
  private readonly initializers: OnnxNs.ITensorProto[] = [];
  private readonly inputs: ValueSpec[] = [];
  private readonly outputs: ValueSpec[] = [];
  private counter = 0;
  private readonly constCache = new Map<string, string>();

  constructor(readonly sink: WeightSink) {}

  /** A fresh, readable value name. */
  fresh(hint: string): string {
    return `${hint}__${this.counter++}`;
  }

  input(spec: ValueSpec): string {
    this.inputs.push(spec);
    return spec.name;
  }

  output(spec: ValueSpec): void {
    this.outputs.push(spec);
  }

  /** Adds a node; returns its output names (`outputs` is how many, or explicit names). */
  op(
    type: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    outputs: number | string[] = 1,
    domain = '',
  ): string[] {
    const outNames =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.fresh(type))
        : outputs;
    this.nodes.push({
      opType: type,
      domain,
      input: inputs,
      output: outNames,
      name: this.fresh(`n_${type}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outNames;
  }

  /** Single-output op. */
  op1(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, domain = ''): string {
    return this.op(type, inputs, attrs, 1, domain)[0];
  }

  /** Registers an initializer whose bytes are already in the sink. */
  addInitializer(tensor: OnnxNs.ITensorProto): string {
    this.initializers.push(tensor);
    return tensor.name as string;
  }

  /** A small constant initializer (deduplicated by value). */
  constant(dtype: DataType, dims: number[], values: ArrayLike<number | bigint>): string {
    const key = `${dtype}|${dims.join(',')}|${Array.from(values as ArrayLike<number>).join(',')}`;
    const cached = this.constCache.get(key);
    if (cached) return cached;
    const name = this.fresh('const');
    this.initializers.push({ name, dataType: dtype, dims, rawData: encodeSmall(dtype, values) });
    this.constCache.set(key, name);
    return name;
  }

  i64(values: number[]): string {
    return this.constant(DT.INT64, [values.length], values);
  }

  f32Scalar(v: number): string {
    return this.constant(DT.FLOAT, [], [v]);
  }

  encode(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'unmask',
      opsetImport: [
        { domain: '', version: OPSET },
        { domain: MS_DOMAIN, version: 1 },
      ],
      graph: {
        name: 'llada2',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function encodeSmall(dtype: DataType, values: ArrayLike<number | bigint>): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case DT.FLOAT:
      return new Uint8Array(Float32Array.from(values as ArrayLike<number>).buffer);
    case DT.INT32:
      return new Uint8Array(Int32Array.from(values as ArrayLike<number>).buffer);
    case DT.INT64: {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(values[i]);
      return new Uint8Array(out.buffer);
    }
    case DT.BOOL:
    case DT.UINT8:
      return Uint8Array.from(values as ArrayLike<number>);
    default:
      throw new Error(`constant: unsupported dtype ${dtype}`);
  }
}

export { onnx };
