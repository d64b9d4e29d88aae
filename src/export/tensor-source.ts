/** Where the exporter reads checkpoint tensors from, and the one shape-checked read every graph part uses. */

export interface TensorSource {
  has(name: string): boolean;
  read(name: string): Promise<{ shape: number[]; data: Float32Array }>;
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
