/** Where the exporter reads checkpoint tensors from, and the one shape-checked read every graph part uses. */

export interface TensorSource {
  has(name: string): boolean;
  read(name: string): Promise<{ shape: number[]; data: Float32Array }>;
  /** Rows [start, end) of a tensor (first axis), decoded to float32, with the whole tensor's shape. */
  readRows?(
    name: string,
    start: number,
    end: number,
  ): Promise<{ shape: number[]; data: Float32Array }>;
}

export class ExportError extends Error {
  override name = 'ExportError';
}

/** Reads a tensor and checks its shape; errors name the tensor. */
export async function readTensor(
  src: TensorSource,
  name: string,
  shape: number[],
): Promise<Float32Array> {
  if (!src.has(name)) throw new ExportError(`missing tensor ${name}`);
  const t = await src.read(name);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ExportError(
      `tensor ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`,
    );
  }
  return t.data;
}

/**
 * A [rows, cols] tensor in blocks of `blockRows` rows, shape-checked; with a source that reads row ranges
 * only one block is in memory at a time.
 */
export async function* rowBlocks(
  src: TensorSource,
  name: string,
  [rows, cols]: [number, number],
  blockRows: number,
): AsyncGenerator<Float32Array> {
  if (!src.readRows) {
    const all = await readTensor(src, name, [rows, cols]);
    for (let r = 0; r < rows; r += blockRows)
      yield all.subarray(r * cols, Math.min(rows, r + blockRows) * cols);
    return;
  }
  if (!src.has(name)) throw new ExportError(`missing tensor ${name}`);
  for (let r = 0; r < rows; r += blockRows) {
    const { shape, data } = await src.readRows(name, r, Math.min(rows, r + blockRows));
    if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols)
      throw new ExportError(
        `tensor ${name} has shape [${shape.join(', ')}], expected [${rows}, ${cols}]`,
      );
    yield data;
  }
}
