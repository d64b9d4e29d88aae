/** BlobStore over a Cloudflare Workers R2 binding (env.MODELS): no signing, no egress through the S3 API. */
import { ModelLoadError, type BlobStore, type ByteRange, type ObjectInfo } from '../store.ts';
import { formatS3Location, objectKey } from './parse-location.ts';

/** The part of an R2 object body the store reads. */
export interface R2ObjectBodyLike {
  size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The part of the Workers `R2Bucket` binding the store uses (structural, so tests can fake it). */
export interface R2BucketLike {
  get(
    key: string,
    options?: { range?: { offset: number; length: number } },
  ): Promise<R2ObjectBodyLike | null>;
  head(key: string): Promise<{ size: number } | null>;
}

export interface R2StoreOptions {
  /** Key prefix of the package (default '' = bucket root). */
  prefix?: string;
  /** Bucket name for messages only (default 'r2'). */
  bucketName?: string;
}

/**
 * @example const store = new R2Store(env.MODELS, { prefix: 'llada2-mini-int4', bucketName: 'models' })
 */
export class R2Store implements BlobStore {
  readonly location: string;
  private readonly prefix: string;

  constructor(
    private readonly bucket: R2BucketLike,
    { prefix = '', bucketName = 'r2' }: R2StoreOptions = {},
  ) {
    this.prefix = prefix
      .split('/')
      .filter((s) => s !== '')
      .join('/');
    this.location = formatS3Location({ bucket: bucketName, prefix: this.prefix }).replace(
      /^s3:/,
      'r2:',
    );
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | null> {
    if (range && range.length === 0) return new Uint8Array(0);
    return this.attempt(key, async () => {
      const object = await this.bucket.get(
        objectKey(this.prefix, key),
        range ? { range: { offset: range.offset, length: range.length } } : undefined,
      );
      return object ? new Uint8Array(await object.arrayBuffer()) : null;
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    return this.attempt(key, async () => {
      const object = await this.bucket.head(objectKey(this.prefix, key));
      return object ? { size: object.size } : null;
    });
  }

  /** R2 binding failures are exceptions without a status: a bad range is permanent, anything else is retried. */
  private async attempt<T>(key: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e: unknown) {
      const message = e instanceof Error ? e.message : String(e);
      const where = `${this.location}/${key}`;
      if (/range/i.test(message)) throw new ModelLoadError('truncated', `${where}: ${message}`);
      throw new ModelLoadError('transient', `${where}: R2 error (${message})`);
    }
  }
}
