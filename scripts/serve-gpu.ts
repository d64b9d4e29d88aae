/**
 * `npm run serve:gpu -- --model <dir|s3://…> [--port N] [--host H] [--providers cuda,webgpu,cpu] [--max-batch N]
 * [--max-queue N] [--pad-seq-ratio R] [--prefix-cache-mb 1024] [--device N] [--threads N] [--model-id ID] [--drain-timeout S]`: the GPU container server
 * (backends/gpu/server.ts). GPU_POOL_SECRET is required. Prints `listening on <url>` at once and `ready: …` once the
 * model is warmed (both on stderr). SIGTERM/SIGINT drain: new requests get 503, admitted ones finish, then exit 0.
 */
import { PROVIDERS, type Provider } from '../backends/node/open-model.ts';
import { startGpuServer } from '../backends/gpu/server.ts';
import { floatFlag, intFlag, parseFlags, runMain, UsageError } from '../backends/node/cli.ts';

const USAGE =
  'usage: serve-gpu --model <dir|s3://bucket/prefix> [--port 8000] [--host 0.0.0.0] [--providers cuda,cpu] [--max-batch 32] [--max-queue 256]';

function parseProviders(value: string): Provider[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of list)
    if (!(PROVIDERS as readonly string[]).includes(p))
      throw new UsageError(`--providers: unknown provider "${p}" (known: ${PROVIDERS.join(', ')})`);
  if (list.length === 0) throw new UsageError('--providers: empty list');
  return list as Provider[];
}

runMain('serve-gpu', async () => {
  const { values } = parseFlags(
    process.argv.slice(2),
    {
      model: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      providers: { type: 'string' },
      device: { type: 'string' },
      threads: { type: 'string' },
      'max-batch': { type: 'string' },
      'max-queue': { type: 'string' },
      'pad-seq-ratio': { type: 'string' },
      'prefix-cache-mb': { type: 'string' },
      'model-id': { type: 'string' },
      'drain-timeout': { type: 'string' },
    },
    false,
  );
  if (!values.model) throw new UsageError(`--model is required\n${USAGE}`);
  const secret = process.env.GPU_POOL_SECRET;
  if (!secret)
    throw new UsageError('GPU_POOL_SECRET must be set (the shared secret of the internal API)');
  const log = (line: string) => process.stderr.write(`serve-gpu: ${line}\n`);
  let exiting = false;
  const server = await startGpuServer({
    model: values.model,
    secret,
    port: intFlag(values.port, 'port', 0),
    host: values.host,
    providers: values.providers ? parseProviders(values.providers) : undefined,
    deviceId: intFlag(values.device, 'device', 0),
    threads: intFlag(values.threads, 'threads', 1),
    maxBatch: intFlag(values['max-batch'], 'max-batch', 1),
    maxQueue: intFlag(values['max-queue'], 'max-queue', 0),
    padSeqRatio: floatFlag(values['pad-seq-ratio'], 'pad-seq-ratio'),
    prefixCacheMb: floatFlag(values['prefix-cache-mb'], 'prefix-cache-mb'),
    modelId: values['model-id'],
    drainTimeoutMs: (intFlag(values['drain-timeout'], 'drain-timeout', 0) ?? 600) * 1000,
    log,
    // The worker died: open streams just got their error event; give them a moment to flush, then let the
    // orchestrator restart the container.
    onFatal: () => {
      if (!exiting) setTimeout(() => process.exit(1), 200);
    },
  });
  const stop = (signal: string) => {
    if (exiting) return;
    exiting = true;
    log(`${signal}: draining`);
    server.drain().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await server.ready;
  await new Promise(() => {});
});
