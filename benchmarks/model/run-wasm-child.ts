/** Runs wasm-child.ts for one package in a fresh process (a fresh WASM heap) and returns its result. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WasmChildResult } from './wasm-child.ts';

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
