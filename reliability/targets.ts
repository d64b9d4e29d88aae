/**
 * The two deployments under attack, started the way users start them: the Worker built with wrangler and run in
 * workerd through Miniflare with local R2, D1 and Durable Objects persisted in a temp dir (the `npm start` path,
 * backends/node/worker-harness.ts), and `npm run serve:api` as a child process (so it can be `kill -9`ed and
 * restarted on the same data dir). Both listen on a loopback port; the suite talks to them over real TCP only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  buildWorker,
  seedPackage,
  startWorker,
  type BuiltWorker,
  type RunningWorker,
} from '../backends/node/worker-harness.ts';
import { readLocalManifest } from '../backends/node/stores/disk-package.ts';
import { USAGE_FILE } from '../backends/node/api/file-tenant-store.ts';

export type DeploymentName = 'node' | 'worker';
export const DEPLOYMENTS: readonly DeploymentName[] = ['node', 'worker'];

/** One usage record as the deployment stored it (usage.jsonl on Node, the D1 `usage` table in the Worker). */
export interface StoredUsage {
  tenantId: string;
  requestId: string;
  promptTokens: number;
  completionTokens: number;
  status: number;
  durationMs: number;
  at: number;
}

export interface Target {
  name: DeploymentName;
  /** Base URL, e.g. http://127.0.0.1:41234 (changes on restart). */
  url: string;
  adminToken: string;
  /** The model id the edge serves. */
  model: string;
  /** The package directory it serves (the suite reads its tokenizer). */
  packageDir: string;
  /** Every usage record stored so far. */
  records(): Promise<StoredUsage[]>;
  /** Resident memory of the server process (bytes), or null when it cannot be observed. */
  rss(): Promise<number | null>;
  /** Whether the server process is up and answers /health. */
  alive(): Promise<boolean>;
  /** The server's last output lines (for a crash report). */
  lastOutput(): string;
  /** Node only: 5xx answers the server counted itself (its /metrics), seen by a client or not. */
  serverErrorCount?(): Promise<number>;
  /** Node only: SIGKILL the server process. */
  kill9?(): Promise<void>;
  /** Node only: start the server again on the same data dir (after kill9). */
  restart?(): Promise<void>;
  /** Node only: the data dir (tenants.json, usage.jsonl). */
  dataDir?: string;
  stop(): Promise<void>;
}

const ADMIN_TOKEN = `adm-reliability-${crypto.randomUUID()}`;

/** RSS of a process from /proc (Linux); null elsewhere or when it is gone. */
async function rssOf(pid: number | undefined): Promise<number | null> {
  if (!pid) return null;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
  const kb = status && /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : null;
}

/** The workerd process Miniflare spawned (a child of this process). */
async function workerdPid(): Promise<number | undefined> {
  const pids = await readdir('/proc').catch(() => [] as string[]);
  for (const p of pids) {
    if (!/^\d+$/.test(p)) continue;
    const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
    if (m && m[1].startsWith('workerd') && Number(m[2]) === process.pid) return Number(p);
  }
  return undefined;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(15_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** The Worker in workerd, as `npm start` runs it (wrangler bundle, Miniflare, persisted local R2/D1/DO). */
export async function startWorkerTarget(packageDir: string): Promise<Target> {
  const manifest = await readLocalManifest(packageDir);
  const state = await mkdtemp(join(tmpdir(), 'unmask-reliability-worker-'));
  const output = { text: '' };
  let built: BuiltWorker | undefined;
  let worker: RunningWorker | undefined;
  try {
    built = await buildWorker();
    worker = await startWorker(built, {
      edgeModel: manifest.name,
      prefix: manifest.name,
      adminToken: ADMIN_TOKEN,
      persistDir: state,
      listen: { host: '127.0.0.1', port: 0 },
      // The Worker's console (error lines) must not mix with the suite's table on stdout.
      runtimeOutput: (stdout, stderr) => {
        for (const stream of [stdout, stderr])
          stream.on('data', (d: Buffer) => {
            output.text = (output.text + d.toString()).slice(-4000);
          });
      },
    });
    await seedPackage(worker, packageDir, manifest.name);
  } catch (e: unknown) {
    await worker?.dispose().catch(() => {});
    await built?.cleanup();
    await rm(state, { recursive: true, force: true });
    throw e;
  }
  const running = worker;
  const url = `http://127.0.0.1:${running.url.port}`;
  const pid = await workerdPid();
  return {
    name: 'worker',
    url,
    adminToken: ADMIN_TOKEN,
    model: manifest.name,
    packageDir,
    async records() {
      const db = await running.mf.getD1Database('DB');
      const { results } = await db
        .prepare(
          `SELECT tenant_id, request_id, prompt_tokens, completion_tokens, status, duration_ms, at FROM usage`,
        )
        .all<Record<string, number | string>>();
      return results.map((r) => ({
        tenantId: String(r.tenant_id),
        requestId: String(r.request_id),
        promptTokens: Number(r.prompt_tokens),
        completionTokens: Number(r.completion_tokens),
        status: Number(r.status),
        durationMs: Number(r.duration_ms),
        at: Number(r.at),
      }));
    },
    rss: () => rssOf(pid),
    alive: () => healthy(url),
    lastOutput: () => output.text,
    async stop() {
      await running.dispose().catch(() => {});
      await built!.cleanup();
      await rm(state, { recursive: true, force: true });
    },
  };
}

interface NodeProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** `npm run serve:api` (scripts/serve-api.ts) as a child process; resolves once it prints its ready line. */
function spawnServeApi(packageDir: string, dataDir: string): Promise<NodeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      resolve('scripts/serve-api.ts'),
      '--model',
      packageDir,
      '--data',
      dataDir,
      '--port',
      '0',
      '--threads',
      '1',
    ],
    {
      env: { ...process.env, ADMIN_TOKEN, POOL_CONFIG: '', LOG_REQUESTS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  return new Promise((ok, fail) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-20_000);
      const m = /serve-api: ready: .* at (http:\/\/\S+)/.exec(stderr);
      if (m) ok({ child, url: m[1], stderr: () => stderr });
    });
    child.once('exit', (code, signal) =>
      fail(new Error(`serve-api exited (${code ?? signal}) before it was ready: ${stderr.trim()}`)),
    );
  });
}

/** The API on Node, `npm run serve:api`, with a temp data dir. */
export async function startNodeTarget(packageDir: string): Promise<Target> {
  const manifest = await readLocalManifest(packageDir);
  const dataDir = await mkdtemp(join(tmpdir(), 'unmask-reliability-node-'));
  let current: NodeProcess;
  try {
    current = await spawnServeApi(packageDir, dataDir);
  } catch (e: unknown) {
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((ok) => child.once('exit', () => ok()));
  const target: Target = {
    name: 'node',
    url: current.url,
    adminToken: ADMIN_TOKEN,
    model: manifest.name,
    packageDir,
    dataDir,
    async records() {
      const text = await readFile(join(dataDir, USAGE_FILE), 'utf8').catch(() => '');
      const out: StoredUsage[] = [];
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        try {
          out.push(JSON.parse(line) as StoredUsage);
        } catch {
          /* a line cut short by kill -9: not a record */
        }
      }
      return out;
    },
    rss: () => rssOf(current.child.pid),
    alive: async () =>
      current.child.exitCode === null &&
      current.child.signalCode === null &&
      (await healthy(target.url)),
    lastOutput: () => current.stderr().slice(-4000),
    async serverErrorCount() {
      const res = await fetch(`${target.url}/metrics`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      let n = 0;
      for (const m of (await res.text()).matchAll(
        /^unmask_api_requests_total\{[^}]*status="5\d\d"[^}]*\} (\d+)$/gm,
      ))
        n += Number(m[1]);
      return n;
    },
    async kill9() {
      current.child.kill('SIGKILL');
      await exited(current.child);
    },
    async restart() {
      current = await spawnServeApi(packageDir, dataDir);
      target.url = current.url;
    },
    async stop() {
      current.child.kill('SIGKILL');
      await exited(current.child);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return target;
}

export function startTarget(name: DeploymentName, packageDir: string): Promise<Target> {
  return name === 'node' ? startNodeTarget(packageDir) : startWorkerTarget(packageDir);
}
