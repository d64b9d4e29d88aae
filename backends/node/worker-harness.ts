/**
 * Builds the Worker with wrangler (`deploy --dry-run`, offline) and runs the output in workerd through the
 * Miniflare API, with an in-memory R2 bucket seeded from a local model package. Used by test/worker and
 * `npm run bench:worker`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Miniflare } from 'miniflare';
import { applyMigrations } from '../../src/tenants/d1/schema.ts';
import { d1Migrations } from './d1-migrations.ts';

const WRANGLER = resolve('node_modules/wrangler/bin/wrangler.js');
const WRANGLER_TOML = resolve('wrangler.toml');
/** The R2 binding and bucket name of wrangler.toml. */
export const R2_BINDING = 'MODELS';
export const R2_BUCKET = 'unmask-models';

export interface WorkerModule {
  type: 'ESModule' | 'CompiledWasm' | 'Data' | 'Text';
  path: string;
}

export interface BuiltWorker {
  outDir: string;
  /** Every emitted module, listed explicitly (Miniflare cannot follow ORT's dynamic import specifiers). */
  modules: WorkerModule[];
  /** Wrangler's "Total Upload: X KiB / gzip: Y KiB" (null when it printed none). */
  upload: { kib: number; gzipKiB: number } | null;
  /** Raw and gzip (level 9) bytes per emitted module. */
  sizes: { file: string; bytes: number; gzipBytes: number }[];
  buildMs: number;
  cleanup(): Promise<void>;
}

/** Runs `wrangler deploy --dry-run --outdir <tmp>` (no network: banner/update check and metrics off). */
export async function buildWorker(): Promise<BuiltWorker> {
  const outDir = await mkdtemp(join(tmpdir(), 'unmask-worker-'));
  const started = performance.now();
  const output = await new Promise<string>((ok, fail) => {
    const child = spawn(
      process.execPath,
      [WRANGLER, 'deploy', '--dry-run', '--outdir', outDir, '--env', ''],
      {
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: 'false',
          WRANGLER_HIDE_BANNER: 'true',
          NO_COLOR: '1',
          CI: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.on('error', fail);
    child.on('close', (code) =>
      code === 0 ? ok(text) : fail(new Error(`wrangler deploy --dry-run exited ${code}:\n${text}`)),
    );
  });
  const buildMs = performance.now() - started;
  const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(output);
  const files = (await readdir(outDir)).filter((f) => !f.endsWith('.map') && f !== 'README.md');
  const textNames = await textRuleNames();
  const modules: WorkerModule[] = files.map((f) => ({
    path: join(outDir, f),
    type: moduleType(f, textNames),
  }));
  // The entry must come first.
  modules.sort(
    (a, b) => Number(b.path.endsWith('/index.js')) - Number(a.path.endsWith('/index.js')),
  );
  const sizes = await Promise.all(
    files.map(async (file) => {
      const bytes = await readFile(join(outDir, file));
      return { file, bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
    }),
  );
  return {
    outDir,
    modules,
    sizes,
    buildMs,
    upload: m ? { kib: Number(m[1]), gzipKiB: Number(m[2]) } : null,
    cleanup: () => rm(outDir, { recursive: true, force: true }),
  };
}

/** File names wrangler.toml's Text rules bundle as strings (globs like "**\/name"); emitted as "<hash>-name". */
async function textRuleNames(): Promise<string[]> {
  const toml = await readFile(WRANGLER_TOML, 'utf8');
  const names: string[] = [];
  for (const m of toml.matchAll(/type\s*=\s*"Text"\s*\nglobs\s*=\s*\[([^\]]*)\]/g))
    for (const g of m[1].matchAll(/"([^"]+)"/g)) names.push(g[1].split('/').pop()!);
  return names;
}

function moduleType(file: string, textNames: string[]): WorkerModule['type'] {
  if (textNames.some((n) => file === n || file.endsWith(`-${n}`))) return 'Text';
  if (file.endsWith('.js') || file.endsWith('.mjs')) return 'ESModule';
  if (file.endsWith('.wasm')) return 'CompiledWasm';
  if (file.endsWith('.txt') || file.endsWith('.html')) return 'Text';
  return 'Data';
}

/** wrangler.toml's compatibility_flags (top level), e.g. enable_request_signal. */
export async function compatibilityFlags(): Promise<string[]> {
  const m = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(await readFile(WRANGLER_TOML, 'utf8'));
  return m ? [...m[1].matchAll(/"([^"]+)"/g)].map((f) => f[1]) : [];
}

/** wrangler.toml's [assets] directory (the playground page, written by its [build] command), absolute. */
export async function assetsDirectory(): Promise<string | null> {
  const toml = await readFile(WRANGLER_TOML, 'utf8');
  const m = /^\[assets\][^[]*?^directory\s*=\s*"([^"]+)"/m.exec(toml);
  return m ? resolve(m[1]) : null;
}

/** wrangler.toml's compatibility_date (the harness runs what wrangler would deploy). */
export async function compatibilityDate(): Promise<string> {
  const m = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(await readFile(WRANGLER_TOML, 'utf8'));
  if (!m) throw new Error('wrangler.toml has no compatibility_date');
  return m[1];
}

export interface StartOptions {
  /** Default 'tiny-random'. */
  edgeModel?: string;
  /** Package key prefix in the bucket. Default 'pkg'. */
  prefix?: string;
  /** Extra or overriding bindings (vars). */
  bindings?: Record<string, string>;
  /** ADMIN_TOKEN secret. Default: TEST_ADMIN_TOKEN. */
  adminToken?: string;
  /** Persist R2, D1 and Durable Object state under this dir (default: in memory). */
  persistDir?: string;
  /** Listen on host:port (default: no socket; use dispatchFetch). */
  listen?: { host: string; port: number };
  /** Open workerd's V8 inspector (Chrome DevTools protocol) on this loopback port: CPU profiles of the Worker. */
  inspectorPort?: number;
  /** Where workerd's stdout/stderr (the Worker's console) go (default: this process's stdout/stderr). */
  runtimeOutput?: (stdout: Readable, stderr: Readable) => void;
}

export const TEST_ADMIN_TOKEN = 'test-admin-token';

export interface RunningWorker {
  mf: Miniflare;
  prefix: string;
  /** Where it listens (with `listen`; the port the OS chose for port 0), else Miniflare's loopback URL. */
  url: URL;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** POST JSON → { status, body }. */
  post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  get(path: string): Promise<{ status: number; body: Record<string, unknown> }>;
  dispose(): Promise<void>;
}

/** A fresh workerd (fresh isolate, fresh wasm heap) running the built Worker with an empty in-memory R2 bucket. */
export async function startWorker(
  built: BuiltWorker,
  opts: StartOptions = {},
): Promise<RunningWorker> {
  const prefix = opts.prefix ?? 'pkg';
  const persist = opts.persistDir;
  const assets = await assetsDirectory();
  const mf = new Miniflare({
    modules: built.modules,
    modulesRoot: built.outDir,
    compatibilityDate: await compatibilityDate(),
    compatibilityFlags: await compatibilityFlags(),
    // Static assets in front of the Worker, as Cloudflare serves them: files first, everything else to the Worker.
    ...(assets ? { assets: { directory: assets, routerConfig: { has_user_worker: true } } } : {}),
    r2Buckets: { [R2_BINDING]: R2_BUCKET },
    d1Databases: { DB: 'unmask' },
    durableObjects: { TENANT_LIMITER: { className: 'TenantLimiter', useSQLite: true } },
    ...(persist
      ? {
          r2Persist: join(persist, 'r2'),
          d1Persist: join(persist, 'd1'),
          durableObjectsPersist: join(persist, 'do'),
        }
      : {}),
    ...(opts.listen ? { host: opts.listen.host, port: opts.listen.port } : {}),
    ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
    ...(opts.runtimeOutput ? { handleRuntimeStdio: opts.runtimeOutput } : {}),
    bindings: {
      EDGE_MODEL: opts.edgeModel ?? 'tiny-random',
      MODEL_SOURCE: 'r2',
      MODEL_PREFIX: prefix,
      ADMIN_TOKEN: opts.adminToken ?? TEST_ADMIN_TOKEN,
      ...opts.bindings,
    },
  });
  const url = await mf.ready;
  const db = await mf.getD1Database('DB');
  const existing = await db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tenants'")
    .first();
  if (!existing) await applyMigrations(db as never, d1Migrations());
  const admin = opts.adminToken ?? TEST_ADMIN_TOKEN;
  // Operator routes (/internal, /admin) get the admin token unless the caller sets its own Authorization.
  const fetchFn = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (/^\/(internal|admin)\//.test(path) && !headers.has('authorization'))
      headers.set('authorization', `Bearer ${admin}`);
    return (await mf.dispatchFetch(`http://worker${path}`, {
      ...init,
      headers,
    } as never)) as unknown as Response;
  };
  const json = async (res: Response) => ({
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
  });
  return {
    mf,
    prefix,
    url,
    fetch: fetchFn,
    post: async (path, body) =>
      json(
        await fetchFn(path, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
      ),
    get: async (path) => json(await fetchFn(path)),
    dispose: () => mf.dispose(),
  };
}

/** Puts every file of a local package dir under `prefix/` in the worker's R2 bucket. */
export async function seedPackage(
  worker: RunningWorker,
  dir: string,
  prefix = worker.prefix,
): Promise<number> {
  const bucket = await worker.mf.getR2Bucket(R2_BINDING);
  let total = 0;
  for (const name of await readdir(dir)) {
    if (!(await stat(join(dir, name))).isFile()) continue;
    // A fresh Uint8Array: Miniflare's serializer rejects Node's pooled Buffer views.
    const bytes = new Uint8Array(await readFile(join(dir, name)));
    await bucket.put(`${prefix}/${name}`, bytes);
    total += bytes.length;
  }
  return total;
}
