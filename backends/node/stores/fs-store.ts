/** BlobStore over a local package directory; ranged reads go through a file handle, never the whole file. */
import { open, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import {
  ModelLoadError,
  type BlobStore,
  type ByteRange,
  type ObjectInfo,
} from '../../../src/model/store.ts';

function isNotFound(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/**
 * @example const store = new FsStore('models/tiny-random')
 */
export class FsStore implements BlobStore {
  readonly location: string;

  constructor(dir: string) {
    this.location = resolve(dir);
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array | null> {
    const path = this.pathOf(key);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (e: unknown) {
      if (isNotFound(e)) return null;
      throw this.ioError(key, e);
    }
    try {
      const offset = range?.offset ?? 0;
      const length = range?.length ?? (await handle.stat()).size;
      const out = new Uint8Array(length);
      let filled = 0;
      // A short read means end of file: return what exists, and let the loader report the truncation.
      while (filled < length) {
        const { bytesRead } = await handle.read(out, filled, length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === length ? out : out.subarray(0, filled);
    } catch (e: unknown) {
      throw this.ioError(key, e);
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const s = await stat(this.pathOf(key));
      return s.isFile() ? { size: s.size } : null;
    } catch (e: unknown) {
      if (isNotFound(e)) return null;
      throw this.ioError(key, e);
    }
  }

  private pathOf(key: string): string {
    const path = resolve(this.location, key);
    if (!path.startsWith(this.location + sep))
      throw new ModelLoadError(
        'format',
        `${key}: path leaves the package directory ${this.location}`,
      );
    return path;
  }

  private ioError(key: string, e: unknown): ModelLoadError {
    return new ModelLoadError('missing', `${this.location}/${key}: ${(e as Error).message}`);
  }
}
