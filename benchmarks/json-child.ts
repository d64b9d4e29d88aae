/**
 * Runs a benchmark's child script in a fresh Node process (tsx) and parses the one JSON object it prints on
 * stdout; its stderr passes through. A non-zero exit rejects, naming `what`.
 */
import { spawn } from 'node:child_process';

export function jsonChild<T>(script: string, args: string[], what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`${what} exited ${code}`)),
    );
  });
}
