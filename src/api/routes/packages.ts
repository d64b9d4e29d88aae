/**
 * GET /v1/models/{id}/package/{path}: the files of the package a model is served from — manifest.json and the
 * files it lists, nothing else — for clients that run the model themselves (the playground's "Run in my browser").
 * Each file carries its sha256 from the manifest (ETag and Repr-Digest); clients verify the bytes against the
 * manifest before use. Only models this key may use; models served by GPU pools have no package here.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { EngineRegistry } from '../engine.ts';
import { ApiError } from '../errors.ts';
import { mayUseModel, modelNotFound } from '../model-access.ts';
import type { PackageObject, PackageSources } from '../package-files.ts';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../../model/manifest.ts';
import { isSafePackagePath } from '../../model/loader/read-manifest.ts';
import { sha256Hex } from '../../model/loader/sha256.ts';
import { errorResponses } from './openapi.ts';

const PACKAGE_PATH = /^\/v1\/models\/(.+)\/package\/(.+)$/;

/** A malformed escape is left as typed: it then matches no model and no file (a 404, never a 500). */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const packageRoute = createRoute({
  method: 'get',
  path: '/v1/models/{model}/package/{path}',
  operationId: 'getModelPackageFile',
  summary: "A file of the model's package (manifest.json, or a file it lists), with its sha256",
  request: {
    params: z.object({
      model: z.string().openapi({ example: 'unmask-demo' }),
      path: z.string().openapi({ example: 'manifest.json' }),
    }),
  },
  responses: {
    200: {
      description:
        'The file. `ETag` is its sha256 (hex, from the manifest); `Repr-Digest` the same as `sha-256=:base64:`',
      content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    304: { description: 'Not modified (If-None-Match matched the ETag)' },
    ...errorResponses,
  },
});

const unavailable = (id: string) =>
  new ApiError(503, 'service_unavailable_error', `The package of '${id}' cannot be read now`, {
    code: 'model_unavailable',
    retryAfterSeconds: 5,
  });

async function readAll(o: PackageObject): Promise<Uint8Array> {
  if (o.body instanceof Uint8Array) return o.body;
  return new Uint8Array(await new Response(o.body).arrayBuffer());
}

function base64OfHex(hex: string): string {
  let s = '';
  for (let i = 0; i < hex.length; i += 2)
    s += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return btoa(s);
}

function fileResponse(
  req: Request,
  body: PackageObject['body'] | null,
  size: number,
  sha256: string,
  contentType: string,
): Response {
  const etag = `"${sha256}"`;
  const headers: Record<string, string> = {
    etag,
    'repr-digest': `sha-256=:${base64OfHex(sha256)}:`,
    // The URL is not content-addressed (a package can be republished): revalidate with the ETag.
    'cache-control': 'private, no-cache',
  };
  const match = req.headers.get('if-none-match');
  if (match && match.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
    if (body instanceof ReadableStream) void body.cancel();
    return new Response(null, { status: 304, headers });
  }
  return new Response(body as BodyInit | null, {
    status: 200,
    headers: { ...headers, 'content-type': contentType, 'content-length': String(size) },
  });
}

export function packageRoutes(
  app: OpenAPIHono,
  engines: EngineRegistry,
  packages: PackageSources | undefined,
): void {
  // Model ids may contain "/", so /v1/models/{id} would take these paths too, and Hono's router cannot order two
  // greedy patterns: a middleware registered before the models routes answers them instead.
  app.use('/v1/models/*', async (c, next) => {
    const m = PACKAGE_PATH.exec(c.req.path);
    if (!m || (c.req.method !== 'GET' && c.req.method !== 'HEAD')) return next();
    const id = safeDecode(m[1]);
    const path = safeDecode(m[2]);
    const engine = engines.list().find((e) => e.id === id && mayUseModel(c.get('tenant'), e.id));
    if (!engine) throw modelNotFound(id);
    const source = packages?.(id);
    if (!source)
      throw new ApiError(
        404,
        'invalid_request_error',
        `The model '${id}' is not served from a package this server can share`,
        { code: 'package_not_available', param: 'model' },
      );
    const stored = await source.open(MANIFEST_FILE).catch(() => null);
    if (!stored) throw unavailable(id);
    const manifestBytes = await readAll(stored);
    let manifest: Manifest;
    try {
      manifest = parseManifest(JSON.parse(new TextDecoder().decode(manifestBytes)));
    } catch {
      throw unavailable(id);
    }
    if (path === MANIFEST_FILE)
      return fileResponse(
        c.req.raw,
        manifestBytes,
        manifestBytes.length,
        await sha256Hex(manifestBytes),
        'application/json',
      );
    const file = manifest.files.find((f) => f.path === path && isSafePackagePath(f.path));
    if (!file)
      throw new ApiError(
        404,
        'not_found_error',
        `The package of '${id}' has no file '${path}' (see its manifest.json)`,
        { code: 'package_file_not_found', param: 'path' },
      );
    const object = await source.open(file.path).catch(() => null);
    if (!object) throw unavailable(id);
    if (object.size !== file.bytes) {
      if (object.body instanceof ReadableStream) void object.body.cancel();
      throw unavailable(id);
    }
    const type = file.path.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    return fileResponse(c.req.raw, object.body, object.size, file.sha256, type);
  });
  // Documented with its OpenAPI route; served by the multi-segment route above.
  app.openAPIRegistry.registerPath(packageRoute);
}
