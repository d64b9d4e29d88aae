/**
 * /docs: Swagger UI (@hono/swagger-ui) over /openapi.json, with its script and stylesheet served by this app
 * (no CDN: it works offline and inside a private network). "Authorize" takes a tenant key (or the admin token)
 * and "Try it out" calls this server. The asset bytes come from the runtime (DocsAssets): the Worker bundles
 * them as text modules, Node reads them from swagger-ui-dist.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { swaggerUI } from '@hono/swagger-ui';

/** The two files Swagger UI needs, by name. */
export type DocsAssetName = 'swagger-ui-bundle.js' | 'swagger-ui.css';

export interface DocsAssets {
  get(name: DocsAssetName): Promise<string> | string;
}

const ASSET_BASE = '/docs/assets';
const TYPES: Record<DocsAssetName, string> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
};

export function docsRoutes(app: OpenAPIHono, assets: DocsAssets | undefined): void {
  app.get(
    '/docs',
    swaggerUI({
      url: '/openapi.json',
      title: 'Unmask API',
      // @hono/swagger-ui asks for `${baseUrl}/swagger-ui-dist/<file>`: served below.
      baseUrl: ASSET_BASE,
      persistAuthorization: true,
      tryItOutEnabled: true,
      displayOperationId: true,
    }),
  );
  app.get(`${ASSET_BASE}/swagger-ui-dist/:file`, async (c) => {
    const file = c.req.param('file') as DocsAssetName;
    if (!assets || !(file in TYPES)) return c.notFound();
    return c.body(await assets.get(file), 200, {
      'content-type': TYPES[file],
      'cache-control': 'public, max-age=86400',
    });
  });
}
