/**
 * CLI: npm run seed:local-r2 -- [--model <package-dir>] [--prefix <key-prefix>]
 *
 * Puts a model package into the local R2 bucket that `wrangler dev` uses (wrangler.toml's MODELS →
 * unmask-models, persisted under .wrangler/state/v3/r2), so `npm run dev:worker` serves it offline.
 * Defaults: models/tiny-random (built first when missing) under the prefix wrangler.toml's MODEL_PREFIX names.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Miniflare } from 'miniflare';
import { parseFlags, runMain } from '../backends/node/cli.ts';
import { readLocalManifest } from '../backends/node/stores/disk-package.ts';
import { R2_BINDING, R2_BUCKET } from '../backends/node/worker-harness.ts';
import { ensureTinyPackage } from '../backends/node/tiny-package.ts';

/** Where wrangler dev keeps local R2 data (its default persist root is .wrangler/state, then v3/<plugin>). */
const LOCAL_R2 = resolve('.wrangler/state/v3/r2');
const USAGE = 'usage: seed-local-r2 [--model <package-dir>] [--prefix <key-prefix>]';

async function defaultPrefix(): Promise<string> {
  const m = /^MODEL_PREFIX\s*=\s*"([^"]*)"/m.exec(await readFile('wrangler.toml', 'utf8'));
  return m ? m[1] : 'tiny-random';
}

runMain('seed-local-r2', async () => {
  const { values: v } = parseFlags(
    process.argv.slice(2),
    { model: { type: 'string' }, prefix: { type: 'string' }, help: { type: 'boolean' } },
    false,
  );
  if (v.help) {
    console.log(USAGE);
    return;
  }
  const dir = v.model ? resolve(v.model) : await ensureTinyPackage({ quiet: false });
  const manifest = await readLocalManifest(dir);
  const prefix = (v.prefix ?? (await defaultPrefix())).replace(/^\/+|\/+$/g, '');
  // A throwaway Miniflare bound to the same bucket and persist path as wrangler dev.
  const mf = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response(null, { status: 204 }); } }',
    r2Buckets: { [R2_BINDING]: R2_BUCKET },
    r2Persist: LOCAL_R2,
  });
  try {
    const bucket = await mf.getR2Bucket(R2_BINDING);
    let bytes = 0;
    for (const name of await readdir(dir)) {
      if (!(await stat(join(dir, name))).isFile()) continue;
      const data = new Uint8Array(await readFile(join(dir, name)));
      await bucket.put(prefix ? `${prefix}/${name}` : name, data);
      bytes += data.length;
    }
    console.log(
      `seeded ${manifest.name} (${(bytes / 2 ** 20).toFixed(2)} MiB) into local R2 ${R2_BUCKET}/${prefix} (${LOCAL_R2})`,
    );
  } finally {
    await mf.dispose();
  }
});
