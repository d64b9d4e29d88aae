/**
 * Serves the built playground from the Node API server: the page at `/`, its files under /playground/, and
 * onnxruntime-web's .wasm streamed from node_modules. ETags let browsers revalidate; content-hashed chunks are
 * immutable.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import type { PlaygroundFile } from './build.ts';

export function playgroundApp(files: PlaygroundFile[]): Hono {
  const app = new Hono();
  const byPath = new Map(
    files.map((f) => {
      const tag = f.bytes
        ? createHash('sha256').update(f.bytes).digest('hex').slice(0, 32)
        : `${f.size}-${f.path}`;
      return [f.path, { ...f, etag: `"${tag}"` }] as const;
    }),
  );
  const serve = (path: string, req: Request): Response | null => {
    const f = byPath.get(path);
    if (!f) return null;
    const headers: Record<string, string> = {
      etag: f.etag,
      'cache-control': path.includes('/chunks/')
        ? 'public, max-age=31536000, immutable'
        : 'no-cache',
      'x-content-type-options': 'nosniff',
    };
    if (req.headers.get('if-none-match') === f.etag)
      return new Response(null, { status: 304, headers });
    const body = f.bytes
      ? (f.bytes as Uint8Array<ArrayBuffer>)
      : (Readable.toWeb(createReadStream(f.file!)) as ReadableStream<Uint8Array>);
    return new Response(body, {
      headers: { ...headers, 'content-type': f.contentType, 'content-length': String(f.size) },
    });
  };
  app.get('/', (c) => serve('/', c.req.raw) ?? c.notFound());
  app.get('/playground/*', (c) => serve(c.req.path, c.req.raw) ?? c.notFound());
  return app;
}
