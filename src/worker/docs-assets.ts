/**
 * Swagger UI's files for /docs in the Worker: bundled as text modules (wrangler.toml's Text rule), so the page
 * works without a CDN. They add about 2 MiB raw / 0.5 MiB gzip to the upload (docs/workerd.md).
 */
import bundle from 'swagger-ui-dist/swagger-ui-bundle.js';
import css from 'swagger-ui-dist/swagger-ui.css';
import type { DocsAssets } from '../api/docs-page.ts';

export const workerDocsAssets: DocsAssets = {
  get: (name) => (name === 'swagger-ui.css' ? css : bundle) as unknown as string,
};
