/**
 * BlobStore over the S3 REST API with Web-standard fetch, signed by aws4fetch (SigV4). Runs in workerd,
 * Node and browsers; works with AWS S3, R2 (region auto) and S3-compatible servers (path-style URLs).
 */
import { AwsClient } from 'aws4fetch';
import type { BlobStore, ByteRange, ObjectInfo } from '../store.ts';
import { ModelLoadError } from '../store.ts';
import { httpLoadError, networkLoadError, s3ErrorCode } from './http-errors.ts';
import { formatS3Location, objectKey } from './parse-location.ts';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3FetchStoreOptions {
  bucket: string;
  /** Key prefix of the package (default '' = bucket root). */
  prefix?: string;
  /** e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:4568 (path-style). Default: AWS S3. */
  endpoint?: string;
  /** Default 'auto' for R2 endpoints, else 'us-east-1'. */
  region?: string;
  /** Omit for public buckets (unsigned requests). */
  credentials?: S3Credentials;
  /** Injected fetch (default globalThis.fetch). */
  fetch?: typeof fetch;
}

export function defaultRegion(endpoint: string | undefined): string {
  return endpoint && /\.r2\.cloudflarestorage\.com(:\d+)?(\/|$)/.test(endpoint)
    ? 'auto'
    : 'us-east-1';
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/**
 * @example new S3FetchStore({ endpoint: `https://${account}.r2.cloudflarestorage.com`, bucket: 'models', prefix: 'tiny', credentials })
 */
export class S3FetchStore implements BlobStore {
  readonly location: string;
  private readonly prefix: string;
  private readonly baseUrl: string;
  private readonly client: AwsClient | null;
  private readonly fetchImpl: typeof fetch;

  constructor({
    bucket,
    prefix = '',
    endpoint,
    region = defaultRegion(endpoint),
    credentials,
    fetch: fetchImpl,
  }: S3FetchStoreOptions) {
    if (!bucket) throw new Error('S3FetchStore: bucket is required');
    this.prefix = prefix
      .split('/')
      .filter((s) => s !== '')
      .join('/');
    this.location = formatS3Location({ bucket, prefix: this.prefix });
    if (endpoint) this.baseUrl = `${endpoint.replace(/\/+$/, '')}/${encodeURIComponent(bucket)}`;
    // Dotted bucket names break virtual-hosted TLS certificates, so they go path-style too.
    else
      this.baseUrl = bucket.includes('.')
        ? `https://s3.${region}.amazonaws.com/${bucket}`
        : `https://${bucket}.s3.${region}.amazonaws.com`;
    this.client = credentials
      ? new AwsClient({ ...credentials, service: 's3', region, retries: 0 })
      : null;
    this.fetchImpl = fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | null> {
    if (range && range.length === 0) return new Uint8Array(0);
    const headers: Record<string, string> = range
      ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` }
      : {};
    const res = await this.request('GET', key, headers);
    if (!res) return null;
    const where = this.where(key);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e: unknown) {
      throw networkLoadError(where, e);
    }
    // A server that ignores Range answers 200 with the whole object.
    if (range && res.status === 200)
      return bytes.subarray(range.offset, range.offset + range.length);
    return bytes;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const res = await this.request('HEAD', key, {});
    if (!res) return null;
    const size = Number(res.headers.get('content-length'));
    if (!Number.isFinite(size))
      throw new ModelLoadError('format', `${this.where(key)}: HEAD gave no Content-Length`);
    return { size };
  }

  private where(key: string): string {
    return `${this.location}/${key}`;
  }

  /** The OK response, null for 404, or a ModelLoadError. */
  private async request(
    method: 'GET' | 'HEAD',
    key: string,
    headers: Record<string, string>,
  ): Promise<Response | null> {
    const url = `${this.baseUrl}/${encodeKey(objectKey(this.prefix, key))}`;
    const where = this.where(key);
    let res: Response;
    try {
      const req = this.client
        ? await this.client.sign(url, { method, headers })
        : new Request(url, { method, headers });
      res = await this.fetchImpl(req);
    } catch (e: unknown) {
      throw networkLoadError(where, e);
    }
    if (res.ok) return res;
    const body = method === 'GET' ? await res.text().catch(() => '') : '';
    const code = s3ErrorCode(body);
    if (res.status === 404 && code !== 'NoSuchBucket') return null;
    throw httpLoadError(res.status, where, code);
  }
}
