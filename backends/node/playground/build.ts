/**
 * Builds the playground page (src/playground) into the files the app serves: index.html and the stylesheet as
 * they are, the TypeScript bundled by esbuild (the page imports src/decode, src/model and src/ort; onnxruntime-web
 * is split into chunks loaded only in browser mode), and onnxruntime-web's two .wasm builds. The Node server
 * builds it in memory at start; `scripts/build-playground.ts` writes it to dist/playground for the Worker's
 * static assets (wrangler.toml [build] and [assets]). docs/playground.md.
 */
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';

/** URL paths under which the page's files live (the page itself is `/`). */
export const PLAYGROUND_PREFIX = '/playground/';
export const ORT_PREFIX = `${PLAYGROUND_PREFIX}ort/`;
/** onnxruntime-web's builds the page may load: CPU (WASM) and WebGPU (its JSPI build). Each is under 25 MiB. */
export const ORT_WASM_FILES = ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.jspi.wasm'];

export interface PlaygroundFile {
  /** URL path, e.g. "/" or "/playground/playground.js". */
  path: string;
  contentType: string;
  /** Bytes held in memory (page files), or a file on disk (onnxruntime-web's wasm). */
  bytes?: Uint8Array;
  file?: string;
  size: number;
}

const ROOT = resolve(import.meta.dirname, '../../..');
const SOURCE = join(ROOT, 'src/playground');

export function contentType(path: string): string {
  if (path.endsWith('.js') || path.endsWith('.mjs')) return 'text/javascript; charset=utf-8';
  if (path.endsWith('.css')) return 'text/css; charset=utf-8';
  if (path.endsWith('.html') || path === '/') return 'text/html; charset=utf-8';
  if (path.endsWith('.wasm')) return 'application/wasm';
  return 'application/octet-stream';
}

function ortDist(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
}

/** Every file of the page, built now (about a second). */
export async function buildPlayground(): Promise<PlaygroundFile[]> {
  const out = await build({
    absWorkingDir: ROOT,
    entryPoints: { playground: join(SOURCE, 'main.ts') },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    chunkNames: 'chunks/[name]-[hash]',
    outdir: '/out',
    write: false,
    logLevel: 'silent',
  });
  const files: PlaygroundFile[] = out.outputFiles.map((f) => {
    const path = `${PLAYGROUND_PREFIX}${f.path.slice('/out/'.length)}`;
    return { path, contentType: contentType(path), bytes: f.contents, size: f.contents.length };
  });
  const page = async (path: string, name: string) => {
    const bytes = new Uint8Array(await readFile(join(SOURCE, name)));
    files.push({ path, contentType: contentType(path), bytes, size: bytes.length });
  };
  await page('/', 'index.html');
  await page(`${PLAYGROUND_PREFIX}playground.css`, 'playground.css');
  const dist = ortDist();
  for (const name of ORT_WASM_FILES) {
    const file = join(dist, name);
    files.push({
      path: `${ORT_PREFIX}${name}`,
      contentType: 'application/wasm',
      file,
      size: (await stat(file)).size,
    });
  }
  return files;
}

/** The file a URL path is stored at under a static-assets directory ("/" → index.html). */
export function assetFile(outDir: string, path: string): string {
  return join(outDir, path === '/' ? 'index.html' : path.slice(1));
}

/**
 * Writes the page under `outDir` for Workers static assets. Each file is replaced by a rename (a server reading the
 * directory never sees half a file) and only when it changed, so concurrent builds are harmless.
 */
export async function writePlayground(files: PlaygroundFile[], outDir: string): Promise<void> {
  for (const f of files) {
    const target = assetFile(outDir, f.path);
    await mkdir(dirname(target), { recursive: true });
    const bytes = f.bytes ?? null;
    const existing = await stat(target).catch(() => null);
    if (existing?.size === f.size) {
      if (!bytes) continue; // onnxruntime-web's files: same size, same version
      const current = await readFile(target);
      if (Buffer.compare(current, bytes) === 0) continue;
    }
    const temp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    if (bytes) await writeFile(temp, bytes);
    else await copyFile(f.file!, temp);
    await rename(temp, target);
  }
  // Chunks of earlier builds (their names carry a content hash) go.
  const chunkDir = join(outDir, PLAYGROUND_PREFIX.slice(1), 'chunks');
  const current = new Set(files.map((f) => assetFile(outDir, f.path)));
  for (const name of await readdir(chunkDir).catch(() => [] as string[]))
    if (!current.has(join(chunkDir, name)) && !name.endsWith('.tmp'))
      await rm(join(chunkDir, name), { force: true });
}
