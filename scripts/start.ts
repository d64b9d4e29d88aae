/**
 * `npm start` (contract): on a fresh clone after `npm ci`, builds the embedded model package if absent,
 * builds the Worker with wrangler, runs it in workerd (Miniflare) on PORT (default 8787) with local R2, D1
 * (migrations applied) and Durable Objects persisted under UNMASK_STATE_DIR (default .wrangler/state/unmask),
 * seeds the model into R2, loads it, and prints a ready line, the playground page's URL, a development key (tenant
 * "dev") and a curl line to try it — or exits 1 with the reason when the model cannot be loaded (e.g. a file fails
 * verification). ADMIN_TOKEN, LOG_REQUESTS, CORS_ORIGINS, PREFIX_CACHE_MB, POOL_CONFIG and its pools' secrets come
 * from the environment; in development an admin token is generated and printed. PORT=0 picks a free port.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defaultPackage } from '../backends/node/default-package.ts';
import { readLocalManifest } from '../backends/node/stores/disk-package.ts';
import {
  buildWorker,
  seedPackage,
  startWorker,
  type RunningWorker,
} from '../backends/node/worker-harness.ts';
import { intFlag, runMain } from '../backends/node/cli.ts';
import { workerBindingsFromEnv } from '../backends/node/worker-env.ts';

const DEV_KEY_FILE = 'dev-key.json';

/**
 * A key a new user can try the API with at once: tenant "dev" is created on the first start and its key kept
 * (mode 600) next to the local state, reused while it still authenticates.
 */
async function ensureDevKey(worker: RunningWorker, file: string): Promise<string> {
  const saved = await readFile(file, 'utf8').then(
    (t) => JSON.parse(t) as { key?: string },
    () => null,
  );
  if (saved?.key) {
    const res = await worker.fetch('/v1/models', {
      headers: { authorization: `Bearer ${saved.key}` },
    });
    if (res.ok) return saved.key;
  }
  const tenant = await worker.post('/admin/tenants', { name: 'dev' });
  const created = await worker.post(`/admin/tenants/${tenant.body.id}/keys`, {});
  if (created.status !== 201)
    throw new Error(`could not create the development key: ${JSON.stringify(created.body)}`);
  const key = created.body.key as string;
  await writeFile(
    file,
    `${JSON.stringify({ tenant_id: tenant.body.id, key_id: created.body.id, key }, null, 2)}\n`,
    { mode: 0o600 },
  );
  return key;
}

/** Loads the model in the Worker (GET /internal/health); a model that cannot load is a start-up failure. */
async function ensureLoaded(worker: RunningWorker, stop: () => Promise<void>): Promise<void> {
  process.stderr.write('start: loading the model in the Worker…\n');
  const { status, body } = await worker.get('/internal/health');
  if (status === 200) return;
  await stop();
  throw new Error(`the model failed to load: ${String(body.error ?? `HTTP ${status}`)}`);
}

function randomToken(): string {
  return `adm-${Array.from(crypto.getRandomValues(new Uint8Array(18)), (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

runMain('start', async () => {
  const port = intFlag(process.env.PORT, 'PORT', 0) ?? 8787;
  const host = process.env.HOST ?? '127.0.0.1';
  const dir = process.env.UNMASK_MODEL_DIR
    ? resolve(process.env.UNMASK_MODEL_DIR)
    : await defaultPackage();
  const manifest = await readLocalManifest(dir);
  const stateDir = resolve(process.env.UNMASK_STATE_DIR ?? '.wrangler/state/unmask');
  const generated = !process.env.ADMIN_TOKEN;
  const adminToken = process.env.ADMIN_TOKEN || randomToken();
  process.stderr.write(`start: building the Worker (wrangler deploy --dry-run)…\n`);
  const bindings = workerBindingsFromEnv(process.env, manifest.name);
  const built = await buildWorker();
  const worker = await startWorker(built, {
    edgeModel: manifest.name,
    prefix: manifest.name,
    adminToken,
    persistDir: stateDir,
    listen: { host, port },
    bindings,
  });
  await seedPackage(worker, dir, manifest.name);
  await ensureLoaded(worker, async () => {
    await worker.dispose();
    await built.cleanup();
  });
  const url = `http://${host}:${worker.url.port}`;
  const devKey = await ensureDevKey(worker, join(stateDir, DEV_KEY_FILE));
  if (generated)
    process.stderr.write(`start: ADMIN_TOKEN not set; generated one for this run: ${adminToken}\n`);
  process.stdout.write(`Unmask ready at ${url} — model "${manifest.name}" (${dir})\n`);
  process.stdout.write(`playground: ${url}/ — watch it decode in a browser (use the key below)\n`);
  process.stdout.write(
    `development key (tenant "dev", kept in ${join(stateDir, DEV_KEY_FILE)}): ${devKey}\n`,
  );
  const prompt = manifest.name === 'unmask-demo' ? 'sort: dbca' : 'hello';
  process.stdout.write(
    `try: curl -s ${url}/v1/chat/completions -H "authorization: Bearer ${devKey}" -H 'content-type: application/json' -d '${JSON.stringify({ model: manifest.name, messages: [{ role: 'user', content: prompt }] })}'\n`,
  );
  const stop = async () => {
    await worker.dispose();
    await built.cleanup();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  await new Promise(() => {});
});
