/**
 * Where model packages live: S3, R2 or a local directory. Keys are paths relative to the package root
 * ("manifest.json", "model.onnx"). Implementations: src/model/stores/ (Web-standard: S3 over fetch, R2
 * binding) and backends/node/stores/ (Node: filesystem, @aws-sdk/client-s3).
 */

export interface ByteRange {
  offset: number;
  length: number;
}

export interface ObjectInfo {
  size: number;
}

export interface BlobStore {
  /** The whole object, or `range` of it; null when the object does not exist. */
  get(key: string, range?: ByteRange): Promise<Uint8Array | null>;
  /** Size of the object; null when it does not exist. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Human-readable location for messages, e.g. "s3://bucket/prefix" (never credentials). */
  readonly location: string;
}

/** A content-addressed cache of verified package files (keyed by sha256). */
export interface FileCache {
  get(sha256: string): Promise<Uint8Array | null>;
  put(sha256: string, bytes: Uint8Array): Promise<void>;
}

/** Errors a loader reports; `code` lets callers map them (e.g. to 503) without parsing messages. */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
  constructor(
    readonly code: 'missing' | 'checksum' | 'truncated' | 'format' | 'budget' | 'transient',
    message: string,
  ) {
    super(message);
  }
}
