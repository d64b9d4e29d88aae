/**
 * A BlobStore over the API's package route (GET /v1/models/{id}/package/{path}), so the browser loads a package
 * through the same verified loader (src/model/loader.ts) the servers use: sizes and sha256 checked against the
 * manifest with Web Crypto before any byte is used.
 */
import type { BlobStore, ByteRange, FileCache, ObjectInfo } from '../model/store.ts';
import { ModelLoadError } from '../model/store.ts';

export class HttpPackageStore implements BlobStore {
  readonly location: string;

  constructor(
    private readonly base: string,
    private readonly modelId: string,
    private readonly key: string,
    private readonly fetchFn: typeof fetch = (input, init) => fetch(input, init),
  ) {
    this.location = `${base.replace(/\/+$/, '')}/v1/models/${modelId}/package`;
  }

  private url(key: string): string {
    return `${this.location}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | null> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}` };
    if (range) headers.range = `bytes=${range.offset}-${range.offset + range.length - 1}`;
    const res = await this.fetchFn(this.url(key), { headers });
    if (res.status === 404) return null;
    if (!res.ok) {
      const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
      throw new ModelLoadError(
        res.status >= 500 || res.status === 429 ? 'transient' : 'missing',
        `${this.url(key)}: ${res.status} ${body?.error?.message ?? res.statusText}`,
      );
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    // A server that ignored the Range header sent the whole object.
    return range && res.status === 200
      ? bytes.slice(range.offset, range.offset + range.length)
      : bytes;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const res = await this.fetchFn(this.url(key), {
      method: 'HEAD',
      headers: { authorization: `Bearer ${this.key}` },
    });
    if (res.status === 404) return null;
    if (!res.ok) throw new ModelLoadError('transient', `${this.url(key)}: ${res.status}`);
    return { size: Number(res.headers.get('content-length') ?? 0) };
  }
}

/** Verified package files kept in the browser's Cache Storage by sha256, so a second visit downloads nothing. */
export async function browserFileCache(name = 'unmask-packages'): Promise<FileCache | undefined> {
  if (typeof caches === 'undefined') return undefined;
  const cache = await caches.open(name).catch(() => null);
  if (!cache) return undefined;
  const keyOf = (sha256: string) => `/sha256/${sha256}`;
  return {
    async get(sha256) {
      const hit = await cache.match(keyOf(sha256));
      return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
    },
    async put(sha256, bytes) {
      await cache.put(keyOf(sha256), new Response(bytes as Uint8Array<ArrayBuffer>));
    },
  };
}
