/**
 * `tsx scripts/build-playground.ts [--out dist/playground]` (contract): builds the playground page and writes it
 * for Workers static assets. wrangler.toml's [build] runs it before every Worker build (deploy, dev, npm start);
 * its [assets] serves the directory. Prints the files and their sizes.
 */
import { resolve } from 'node:path';
import { buildPlayground, writePlayground } from '../backends/node/playground/build.ts';
import { parseFlags, runMain } from '../backends/node/cli.ts';

runMain('build-playground', async () => {
  const { values } = parseFlags(process.argv.slice(2), { out: { type: 'string' } }, false);
  const outDir = resolve(values.out ?? 'dist/playground');
  const t0 = performance.now();
  const files = await buildPlayground();
  await writePlayground(files, outDir);
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  process.stdout.write(
    `build-playground: ${files.length} files, ${kib(files.reduce((s, f) => s + f.size, 0))} in ${outDir} (${(performance.now() - t0).toFixed(0)} ms)\n`,
  );
});
