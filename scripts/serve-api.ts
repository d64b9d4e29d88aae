/**
 * `npm run serve:api -- [--model <dir|s3://…>] [--data DIR] [--port 8787] [--host 127.0.0.1] [--providers cpu]
 * [--threads N] [--model-id ID] [--prefix-cache-mb MiB (32; 0 = off)]` (contract): the OpenAI-compatible API on Node (backends/node/api/server.ts), the
 * same app as the Worker. Environment: ADMIN_TOKEN (the admin API; unset disables it), POOL_CONFIG (GPU-pool routes)
 * and the pools' secrets, LOG_REQUESTS=1, and for s3:// packages the AWS_* / S3_ENDPOINT variables. Prints
 * `serve-api: ready: <model> on <provider> (…) at <url>` on stderr once it listens; SIGTERM/SIGINT close it (exit 0).
 */
import { resolve } from 'node:path';
import { startNodeApi } from '../backends/node/api/server.ts';
import { PROVIDERS, type Provider } from '../backends/node/open-model.ts';
import { floatFlag, intFlag, parseFlags, runMain, UsageError } from '../backends/node/cli.ts';
import { defaultPackage } from '../backends/node/default-package.ts';

const USAGE =
  'usage: serve-api [--model <dir|s3://bucket/prefix>] [--data DIR] [--port 8787] [--host 127.0.0.1] [--providers cpu] [--threads N] [--model-id ID] [--prefix-cache-mb 32]';

runMain('serve-api', async () => {
  const { values: v } = parseFlags(
    process.argv.slice(2),
    {
      model: { type: 'string' },
      data: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      providers: { type: 'string' },
      threads: { type: 'string' },
      'model-id': { type: 'string' },
      'prefix-cache-mb': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const providers = v.providers
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of providers ?? [])
    if (!(PROVIDERS as readonly string[]).includes(p))
      throw new UsageError(`--providers: unknown provider "${p}" (known: ${PROVIDERS.join(', ')})`);
  const log = (line: string) => process.stderr.write(`serve-api: ${line}\n`);
  if (!process.env.ADMIN_TOKEN)
    log('ADMIN_TOKEN is not set: the admin API (/admin/*, npm run tenant) is disabled');
  const server = await startNodeApi({
    model: v.model ?? (await defaultPackage()),
    modelId: v['model-id'],
    dataDir: resolve(v.data ?? process.env.UNMASK_DATA_DIR ?? '.data/unmask'),
    adminToken: process.env.ADMIN_TOKEN || undefined,
    port: intFlag(v.port ?? process.env.PORT, 'port', 0) ?? 8787,
    host: v.host ?? process.env.HOST,
    providers: providers as Provider[] | undefined,
    threads: intFlag(v.threads, 'threads', 1),
    prefixCacheMb: floatFlag(
      v['prefix-cache-mb'] ?? process.env.PREFIX_CACHE_MB,
      'prefix-cache-mb',
    ),
    poolConfig: process.env.POOL_CONFIG || undefined,
    corsOrigins: process.env.CORS_ORIGINS,
    logRequests: process.env.LOG_REQUESTS === '1',
    log,
  });
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    log(`${signal}: closing`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await new Promise(() => {});
});
