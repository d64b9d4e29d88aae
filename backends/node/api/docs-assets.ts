/** Swagger UI's files for /docs on Node, read once from the installed swagger-ui-dist package. */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { DocsAssetName, DocsAssets } from '../../../src/api/docs-page.ts';

export function nodeDocsAssets(): DocsAssets {
  const dir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const read = new Map<DocsAssetName, Promise<string>>();
  return {
    get(name) {
      let text = read.get(name);
      if (!text) read.set(name, (text = readFile(join(dir, name), 'utf8')));
      return text;
    },
  };
}
