/** Spawns the GPU server as a real process (CPU provider) and talks to it: SSE PoolEvents and /metrics samples. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { GENERATE_PATH, type GenerateRequest, type PoolEvent } from '../../backends/gpu/protocol.ts';
import { poolEvents, scrape } from '../../scripts/lib/pool-http.ts';

export { poolEvents, scrape };

export const SECRET = 'test-pool-secret';

export interface ServerProcess {
  url: string;
  proc: ChildProcess;
  /** Everything the server wrote to stderr so far. */
  log(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

export interface SpawnServerOptions {
  model: string;
  args?: string[];
  /** Wait for /health ready (default true). */
  ready?: boolean;
}

/** `node --import tsx scripts/serve-gpu.ts --model <dir> --port 0 --providers cpu …`, up and ready. */
export async function spawnServer({ model, args = [], ready = true }: SpawnServerOptions): Promise<ServerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/serve-gpu.ts', '--model', model, '--port', '0', '--host', '127.0.0.1', '--providers', 'cpu', '--threads', '1', ...args], {
    env: { ...process.env, GPU_POOL_SECRET: SECRET },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.setEncoding('utf8');
  const exited = once(proc, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  const url = await new Promise<string>((resolve, reject) => {
    proc.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${stderr}`)));
  });
  const server: ServerProcess = {
    url,
    proc,
    log: () => stderr,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
  if (ready) await waitReady(server);
  return server;
}

export async function waitReady(server: ServerProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.proc.exitCode !== null) throw new Error(`server exited:\n${server.log()}`);
    const r = await fetch(`${server.url}/health`).catch(() => null);
    if (r?.status === 200) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`server not ready after ${timeoutMs} ms:\n${server.log()}`);
}

export function generateRequest(url: string, body: GenerateRequest | unknown, init: { signal?: AbortSignal; secret?: string | null } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const secret = init.secret === undefined ? SECRET : init.secret;
  if (secret !== null) headers.authorization = `Bearer ${secret}`;
  return fetch(`${url}${GENERATE_PATH}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body), signal: init.signal });
}

/** Every event of one generate call (throws on a non-200). */
export async function collect(url: string, body: GenerateRequest): Promise<PoolEvent[]> {
  const res = await generateRequest(url, body);
  if (res.status !== 200) throw new Error(`generate: ${res.status} ${await res.text()}`);
  const out: PoolEvent[] = [];
  for await (const ev of poolEvents(res)) out.push(ev);
  return out;
}

/** The value of the first series whose text starts with `name` (0 when absent). */
export function metric(samples: Map<string, number>, name: string): number {
  for (const [k, v] of samples) if (k === name || k.startsWith(`${name}{`)) return v;
  return 0;
}

export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
