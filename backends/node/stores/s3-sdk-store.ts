/** BlobStore with @aws-sdk/client-s3 (Node/containers): GetObject with Range, HeadObject. */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BlobStore, ByteRange, ObjectInfo } from '../../../src/model/store.ts';
import { ModelLoadError } from '../../../src/model/store.ts';
import { httpLoadError, networkLoadError } from '../../../src/model/stores/http-errors.ts';
import { formatS3Location, objectKey } from '../../../src/model/stores/parse-location.ts';
import { createS3Client, sdkCode, sdkStatus, type S3ClientOptions } from './s3-client.ts';

export interface S3SdkStoreOptions extends S3ClientOptions {
  bucket: string;
  /** Key prefix of the package (default '' = bucket root). */
  prefix?: string;
  /** A ready client (then endpoint, region, credentials and maxAttempts are ignored). */
  client?: S3Client;
}

/**
 * @example new S3SdkStore({ bucket: 'models', prefix: 'tiny', endpoint: process.env.S3_ENDPOINT })
 */
export class S3SdkStore implements BlobStore {
  readonly location: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly client: S3Client;

  constructor({ bucket, prefix = '', client, ...clientOptions }: S3SdkStoreOptions) {
    if (!bucket) throw new Error('S3SdkStore: bucket is required');
    this.bucket = bucket;
    this.prefix = prefix
      .split('/')
      .filter((s) => s !== '')
      .join('/');
    this.location = formatS3Location({ bucket, prefix: this.prefix });
    this.client = client ?? createS3Client(clientOptions);
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | null> {
    if (range && range.length === 0) return new Uint8Array(0);
    return this.send(key, async () => {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: objectKey(this.prefix, key),
          ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}),
        }),
      );
      if (!out.Body)
        throw new ModelLoadError('format', `${this.where(key)}: GetObject returned no body`);
      const bytes = await out.Body.transformToByteArray();
      // A server that ignores Range answers with the whole object (no Content-Range).
      if (range && !out.ContentRange)
        return bytes.subarray(range.offset, range.offset + range.length);
      return bytes;
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    return this.send(key, async () => {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey(this.prefix, key) }),
      );
      if (out.ContentLength === undefined)
        throw new ModelLoadError('format', `${this.where(key)}: HEAD gave no Content-Length`);
      return { size: out.ContentLength };
    });
  }

  private where(key: string): string {
    return `${this.location}/${key}`;
  }

  /** Runs an SDK call: null for 404/NoSuchKey, ModelLoadError for anything else that fails. */
  private async send<T>(key: string, op: () => Promise<T>): Promise<T | null> {
    try {
      return await op();
    } catch (e: unknown) {
      if (e instanceof ModelLoadError) throw e;
      const status = sdkStatus(e);
      const code = sdkCode(e);
      if (
        (status === 404 || code === 'NoSuchKey' || code === 'NotFound') &&
        code !== 'NoSuchBucket'
      )
        return null;
      if (code === 'CredentialsProviderError') {
        throw new ModelLoadError(
          'missing',
          `${this.where(key)}: no S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile)`,
        );
      }
      if (status === undefined) throw networkLoadError(this.where(key), e);
      throw httpLoadError(status, this.where(key), code);
    }
  }
}
