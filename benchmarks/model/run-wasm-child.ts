/**
 * Runs wasm-child.ts for one package in a fresh process (a fresh WASM heap) and returns its result; or keeps one
 * such process per package alive (ServedWasmChild) so the parent can time the packages in interleaved rounds.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ServeReply, ServeRequest, WasmChildResult } from './wasm-child.ts';

const WASM_CHILD = fileURLToPath(new URL('./wasm-child.ts', import.meta.url));
const MiB = 1024 * 1024;

/** Same tsx loader flags as this process; rejects with the child's last stderr line. */
export function runWasmChild(dir: string, warmup: number, runs: number): Promise<WasmChildResult> {
  const args = [
    ...process.execArgv,
    WASM_CHILD,
    '--dir',
    dir,
    '--warmup',
    String(warmup),
    '--runs',
    String(runs),
  ];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 64 * MiB }, (err, stdout, stderr) => {
      if (err) {
        const reason = stderr.trim().split('\n').filter(Boolean).pop() ?? err.message;
        reject(new Error(`ORT-web child failed for ${dir}: ${reason}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as WasmChildResult);
      } catch {
        reject(new Error(`ORT-web child for ${dir} printed no result`));
      }
    });
  });
}

/** A package loaded in its own ORT-web process, timing one forward per call. */
export interface ServedWasmChild {
  ready: Extract<ServeReply, { type: 'ready' }>;
  /** One timed 32-token forward in the child; its ms. */
  forward(): Promise<number>;
  /** The heap after the forwards; the child exits. */
  finish(): Promise<number | null>;
}

/** Starts the child for `dir` and waits until its session is created. */
export function serveWasmChild(dir: string): Promise<ServedWasmChild> {
  const child: ChildProcess = fork(WASM_CHILD, ['--dir', dir, '--serve'], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let pending: ((m: ServeReply) => void) | null = null;
  let failed: ((e: Error) => void) | null = null;
  const fail = (why: string) =>
    failed?.(new Error(`ORT-web child for ${dir}: ${stderr.trim().split('\n').pop() ?? why}`));
  child.on('exit', (code) => code && fail(`exited with ${code}`));
  child.on('message', (m: ServeReply) => pending?.(m));
  const next = () =>
    new Promise<ServeReply>((resolve, reject) => {
      pending = resolve;
      failed = reject;
    });
  const ask = (req: ServeRequest) => {
    const reply = next();
    child.send(req);
    return reply;
  };
  return next().then((ready) => ({
    ready: ready as Extract<ServeReply, { type: 'ready' }>,
    forward: async () => ((await ask({ type: 'forward' })) as { ms: number }).ms,
    finish: async () =>
      ((await ask({ type: 'finish' })) as { afterForwards: number | null }).afterForwards,
  }));
}
