/** The served package's files from its verified directory on disk (a local package, or links into the disk cache). */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { PackageFileSource } from '../../../src/api/package-files.ts';

/** Paths come from the API route, which serves only manifest.json and the paths its manifest lists. */
export function dirPackageSource(dir: string): PackageFileSource {
  return {
    async open(path) {
      const file = join(dir, path);
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) return null;
      const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
      return { body, size: info.size };
    },
  };
}
