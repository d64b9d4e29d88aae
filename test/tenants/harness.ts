/**
 * Runs fixture-worker.ts inside workerd through Miniflare's API: esbuild bundles it once per process, then each
 * suite gets a fresh Miniflare with an in-memory D1 (migrations applied) and SQLite-backed TenantLimiter DOs.
 */
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import type { D1Database } from '@cloudflare/workers-types';
import { applyMigrations } from '../../src/tenants/schema.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

let bundle: Promise<string> | undefined;

function bundleWorker(): Promise<string> {
  bundle ??= build({
    entryPoints: [new URL('./fixture-worker.ts', import.meta.url).pathname],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    external: ['cloudflare:*'],
    logLevel: 'silent',
  }).then((result) => result.outputFiles[0].text);
  return bundle;
}

export interface WorkerHarnessOptions {
  /** ADMIN_TOKEN binding; null leaves it unset. Default ADMIN_TOKEN. */
  adminToken?: string | null;
  /** Listen on a real port (for CLI tests). Default false. */
  listen?: boolean;
  /** Persist DO and D1 state under this directory (restart tests). Default in memory. */
  persistDir?: string;
  /** Apply the migration. Default true. */
  migrate?: boolean;
}

export interface WorkerHarness {
  mf: Miniflare;
  url: URL;
  /** fetch against the worker; JSON bodies are serialised, `admin: true` adds the admin bearer token. */
  call(path: string, init?: { method?: string; body?: unknown; admin?: boolean; headers?: Record<string, string> }): Promise<Response>;
  /** call() that asserts nothing and returns status + parsed JSON. */
  json<T = Record<string, unknown>>(path: string, init?: Parameters<WorkerHarness['call']>[1]): Promise<{ status: number; body: T; headers: Headers }>;
  dispose(): Promise<void>;
}

export async function startWorker(options: WorkerHarnessOptions = {}): Promise<WorkerHarness> {
  const { adminToken = ADMIN_TOKEN, listen = false, persistDir, migrate = true } = options;
  const mf = new Miniflare({
    modules: [{ type: 'ESModule', path: 'worker.js', contents: await bundleWorker() }],
    compatibilityDate: '2025-09-01',
    d1Databases: ['DB'],
    durableObjects: { TENANT_LIMITER: { className: 'TenantLimiter', useSQLite: true } },
    bindings: adminToken === null ? {} : { ADMIN_TOKEN: adminToken },
    ...(listen ? { host: '127.0.0.1', port: 0 } : {}),
    ...(persistDir ? { d1Persist: `${persistDir}/d1`, durableObjectsPersist: `${persistDir}/do` } : {}),
  });
  const url = await mf.ready;
  if (migrate) await applyMigrations((await mf.getD1Database('DB')) as unknown as D1Database);
  const call: WorkerHarness['call'] = async (path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.admin) headers.authorization = `Bearer ${ADMIN_TOKEN}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const response = await mf.dispatchFetch(new URL(path, 'http://tenants.test').href, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return response as unknown as Response;
  };
  return {
    mf,
    url,
    call,
    async json(path, init) {
      const response = await call(path, init);
      return { status: response.status, body: await response.json(), headers: response.headers };
    },
    dispose: () => mf.dispose(),
  };
}
