/**
 * `npm start`: builds the embedded tiny model package if absent, then generates from it with the shared
 * decode loop. (The OpenAI-compatible server replaces this once the API lands.)
 */
import { spawnSync } from 'node:child_process';
import { ensureTinyPackage } from './tiny-package.ts';
import { runMain } from './lib/cli.ts';

runMain('start', async () => {
  const dir = await ensureTinyPackage({ quiet: false });
  const prompt = process.argv.slice(2).join(' ') || 'Tell me about block diffusion.';
  process.stderr.write(`start: generating from ${dir} (a random tiny model: expect noise, not prose)\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/generate.ts', '--model', dir, '--prompt', prompt, '--chat', '--gen-length', '64', '--threshold', '0.9'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`generate exited with ${r.status}`);
});
