/**
 * `npm start` (contract): on a fresh clone after `npm ci`, builds the embedded model package if absent,
 * builds the Worker with wrangler, runs it in workerd (Miniflare) on PORT (default 8787) with local R2, D1
 * (migrations applied) and Durable Objects persisted under .wrangler/state/unmask, seeds the model into R2,
 * and prints a ready line. ADMIN_TOKEN comes from the environment; in development one is generated and printed.
 */
import { resolve } from 'node:path';
import { defaultPackage } from './lib/default-package.ts';
import { readLocalManifest } from './lib/local-package.ts';
import { buildWorker, seedPackage, startWorker } from './lib/worker-harness.ts';
import { intFlag, runMain } from './lib/cli.ts';


function randomToken(): string {
  return `adm-${Array.from(crypto.getRandomValues(new Uint8Array(18)), (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

runMain('start', async () => {
  const port = intFlag(process.env.PORT, 'PORT', 1) ?? 8787;
  const host = process.env.HOST ?? '127.0.0.1';
  const dir = process.env.UNMASK_MODEL_DIR ? resolve(process.env.UNMASK_MODEL_DIR) : await defaultPackage();
  const manifest = await readLocalManifest(dir);
  const generated = !process.env.ADMIN_TOKEN;
  const adminToken = process.env.ADMIN_TOKEN ?? randomToken();
  process.stderr.write(`start: building the Worker (wrangler deploy --dry-run)…\n`);
  const built = await buildWorker();
  const worker = await startWorker(built, {
    edgeModel: manifest.name, prefix: manifest.name, adminToken,
    persistDir: resolve('.wrangler/state/unmask'), listen: { host, port },
  });
  await seedPackage(worker, dir, manifest.name);
  const url = `http://${host}:${port}`;
  if (generated) process.stderr.write(`start: ADMIN_TOKEN not set; generated one for this run: ${adminToken}\n`);
  process.stdout.write(`Unmask ready at ${url} — model "${manifest.name}" (${dir}); create a tenant: ADMIN_TOKEN=… npm run tenant -- create --name me\n`);
  const stop = async () => { await worker.dispose(); await built.cleanup(); process.exit(0); };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  await new Promise(() => {});
});
