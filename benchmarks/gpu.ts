/**
 * `npm run bench:gpu [-- --providers cpu|cuda|webgpu] [--streams 1,4,16] [--max-tokens 128] [--prompt 64]
 * [--requests-per-stream 2] [--threads N] [--pad-seq-ratio R] [--model <dir>] [--strict-provider] [--json]
 * [--json-file <path>]`:
 * starts the GPU server (scripts/serve-gpu.ts) on a bench model (built once under models/bench-gpu) and drives it
 * with 1, 4 and 16 concurrent closed-loop streams through the internal API. Reports output tokens/s, TTFT (send →
 * first block event with tokens) and ITL (gaps between block events), vLLM's definitions, the
 * sequences each forward carried, and the batching speedup: tokens/s at 16 streams ÷ tokens/s with 1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import {
  GENERATE_PATH,
  MODEL_PATH,
  type GenerateRequest,
  type ModelDescription,
} from '../src/dispatch/pool/protocol.ts';
import { ensureBenchPackage, type BenchModelSpec } from './model/models.ts';
import { floatFlag, intFlag, parseFlags, runMain, UsageError } from '../backends/node/cli.ts';
import { poolEvents, scrape } from '../test/fixtures/pool-http.ts';

/** The bench model: big enough that a forward is real work, small enough to build in seconds. */
const BENCH_GPU: BenchModelSpec = {
  name: 'bench-gpu',
  description:
    '4 layers (1 dense), hidden 256, 4/2 heads × 64, 8 experts top-2 + 1 shared, vocab 8192',
  dir: resolve('models/bench-gpu'),
  model: {
    layers: 4,
    denseLayers: 1,
    hidden: 256,
    heads: 4,
    kvHeads: 2,
    headDim: 64,
    experts: 8,
    expertsPerTok: 2,
    groups: 4,
    topkGroup: 2,
    sharedExperts: 1,
    intermediate: 512,
    moeIntermediate: 128,
    vocab: 8192,
    maxPositions: 2048,
  },
};

interface Timing {
  tokens: number;
  ttftMs: number;
  itlMs: number[];
}

interface Level {
  streams: number;
  requests: number;
  tokens: number;
  seconds: number;
  tokens_per_s: number;
  ttft_ms: Summary;
  itl_ms: Summary;
  tokens_per_chunk: number;
  sequences_per_forward: number;
  /** Share of the wall time the inference worker spent inside forwards. */
  forward_busy: number;
}

interface Summary {
  mean: number;
  p50: number;
  p95: number;
}

const log = (line: string) => process.stderr.write(`bench-gpu: ${line}\n`);

function summarize(xs: number[]): Summary {
  if (xs.length === 0) return { mean: 0, p50: 0, p95: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p50: q(0.5), p95: q(0.95) };
}

function randomIds(n: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % vocab);
}

async function startServer(
  args: string[],
  secret: string,
): Promise<{ url: string; proc: ChildProcess; log: () => string }> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/serve-gpu.ts', '--port', '0', '--host', '127.0.0.1', ...args],
    {
      env: { ...process.env, GPU_POOL_SECRET: secret },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  proc.stderr!.setEncoding('utf8');
  const url = await new Promise<string>((res, rej) => {
    proc.stderr!.on('data', (c: string) => {
      stderr += c;
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) res(m[1]);
    });
    proc.on('exit', (code) => rej(new Error(`server exited (${code}):\n${stderr}`)));
  });
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited:\n${stderr}`);
    if ((await fetch(`${url}/health`).catch(() => null))?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`server not ready in 180 s:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, proc, log: () => stderr };
}

/** One request, timed the vLLM way from the client side. */
async function timedRequest(url: string, secret: string, body: GenerateRequest): Promise<Timing> {
  const sent = performance.now();
  const res = await fetch(`${url}${GENERATE_PATH}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`generate: ${res.status} ${await res.text()}`);
  let last: number | null = null;
  const timing: Timing = { tokens: 0, ttftMs: NaN, itlMs: [] };
  for await (const ev of poolEvents(res)) {
    const now = performance.now();
    if (ev.type === 'block' && ev.tokens.length > 0) {
      if (last === null) timing.ttftMs = now - sent;
      else timing.itlMs.push(now - last);
      last = now;
    } else if (ev.type === 'done') timing.tokens = ev.result.tokens.length;
    else if (ev.type === 'error') throw new Error(`generate: ${ev.error.message}`);
  }
  return timing;
}

interface LevelOptions {
  url: string;
  secret: string;
  model: ModelDescription;
  streams: number;
  requests: number;
  promptLength: number;
  maxTokens: number;
  seed: number;
}

async function runLevel({
  url,
  secret,
  model,
  streams,
  requests,
  promptLength,
  maxTokens,
  seed,
}: LevelOptions): Promise<Level> {
  const before = await scrape(url);
  const timings: Timing[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async () => {
      while (next < requests) {
        const r = next++;
        const prompt = randomIds(promptLength, model.info.vocabSize - 8, seed + r);
        timings.push(
          await timedRequest(url, secret, {
            model: model.id,
            prompt_ids: prompt,
            options: { maxTokens: maxTokens },
          }),
        );
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const after = await scrape(url);
  const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  const tokens = timings.reduce((s, t) => s + t.tokens, 0);
  const chunks = timings.reduce((s, t) => s + t.itlMs.length + 1, 0);
  return {
    streams,
    requests,
    tokens,
    seconds,
    tokens_per_s: tokens / seconds,
    ttft_ms: summarize(timings.map((t) => t.ttftMs)),
    itl_ms: summarize(timings.flatMap((t) => t.itlMs)),
    tokens_per_chunk: tokens / chunks,
    sequences_per_forward:
      delta('unmask_forward_sequences_total') / Math.max(1, delta('unmask_batched_forwards_total')),
    forward_busy: delta('unmask_forward_seconds_sum') / seconds,
  };
}

function gpuName(): string | null {
  const r = spawnSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : null;
}

runMain('bench-gpu', async () => {
  const { values } = parseFlags(
    process.argv.slice(2),
    {
      providers: { type: 'string', default: 'cpu' },
      streams: { type: 'string', default: '1,4,16' },
      'max-tokens': { type: 'string' },
      prompt: { type: 'string' },
      'requests-per-stream': { type: 'string' },
      threads: { type: 'string' },
      'pad-seq-ratio': { type: 'string' },
      model: { type: 'string' },
      'strict-provider': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'json-file': { type: 'string' },
    },
    false,
  );
  const levels = values.streams.split(',').map((s) => intFlag(s, 'streams', 1)!);
  const maxTokens = intFlag(values['max-tokens'], 'max-tokens', 1) ?? 128;
  const promptLength = intFlag(values.prompt, 'prompt', 1) ?? 64;
  const perStream = intFlag(values['requests-per-stream'], 'requests-per-stream', 1) ?? 2;
  const padSeqRatio = floatFlag(values['pad-seq-ratio'], 'pad-seq-ratio');
  const threads = intFlag(values.threads, 'threads', 1);
  const wanted = values.providers.split(',')[0];
  if (!wanted) throw new UsageError('--providers: empty');

  const dir = values.model ? resolve(values.model) : (await ensureBenchPackage(BENCH_GPU, log)).dir;
  const secret = `bench-${Math.random().toString(36).slice(2)}`;
  const args = [
    '--model',
    dir,
    '--providers',
    values.providers,
    '--max-batch',
    String(Math.max(...levels)),
    '--max-queue',
    '0',
  ];
  if (threads) args.push('--threads', String(threads));
  if (padSeqRatio !== undefined) args.push('--pad-seq-ratio', String(padSeqRatio));
  log(`starting the server: ${args.join(' ')}`);
  const server = await startServer(args, secret);
  try {
    const provider =
      [...(await scrape(server.url)).keys()]
        .map((k) => /^unmask_execution_provider_info\{provider="(\w+)"\}/.exec(k)?.[1])
        .find(Boolean) ?? '?';
    if (values['strict-provider'] && provider !== wanted) {
      const why =
        server
          .log()
          .split('\n')
          .find((l) => l.includes(`execution provider ${wanted} unavailable`)) ?? server.log();
      throw new Error(
        `the server runs on ${provider}, not ${wanted}: ${why.replace(/^serve-gpu: /, '')}`,
      );
    }
    const model = (await (
      await fetch(`${server.url}${MODEL_PATH}`, { headers: { authorization: `Bearer ${secret}` } })
    ).json()) as ModelDescription;
    log(`warming up (${Math.max(...levels)} streams, one block each)`);
    await runLevel({
      url: server.url,
      secret,
      model,
      streams: Math.max(...levels),
      requests: Math.max(...levels),
      promptLength,
      maxTokens: model.info.blockLength,
      seed: 999_000,
    });

    const rows: Level[] = [];
    for (const streams of levels) {
      const requests = Math.max(4, streams * perStream);
      log(`${streams} stream(s): ${requests} requests of ${maxTokens} tokens`);
      rows.push(
        await runLevel({
          url: server.url,
          secret,
          model,
          streams,
          requests,
          promptLength,
          maxTokens,
          seed: streams * 1000,
        }),
      );
    }
    const base = rows.find((r) => r.streams === 1)?.tokens_per_s;
    const at16 = rows.find((r) => r.streams === 16)?.tokens_per_s;
    const ortVersion = (
      createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }
    ).version;
    const gpu = gpuName();
    const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length} cores${gpu ? `, GPU ${gpu}` : ''}, Node ${process.version}, onnxruntime-node ${ortVersion}`;
    const result = {
      machine,
      provider,
      model: { dir, id: model.id, description: values.model ? 'custom' : BENCH_GPU.description },
      prompt_tokens: promptLength,
      max_tokens: maxTokens,
      block_length: model.info.blockLength,
      levels: rows,
      speedup_at_16: base && at16 ? at16 / base : null,
    };
    if (values['json-file'])
      await writeFile(values['json-file'], `${JSON.stringify(result, null, 2)}\n`);
    if (values.json) {
      console.log(JSON.stringify(result));
      return;
    }
    const f = (x: number, d = 1) => x.toFixed(d);
    console.log(`bench:gpu — ${model.id} (${result.model.description}), provider ${provider}`);
    console.log(`machine: ${machine}`);
    console.log(
      `requests: ${promptLength}-token prompts, max_tokens ${maxTokens}, block ${model.info.blockLength}, greedy, threshold 0.95; closed-loop streams`,
    );
    console.log('');
    console.log(
      '| streams | requests | tokens | wall s | tok/s | TTFT p50 ms | TTFT p95 ms | ITL p50 ms | ITL p95 ms | tok/chunk | seq/forward | forward busy | vs 1 stream |',
    );
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(
        `| ${r.streams} | ${r.requests} | ${r.tokens} | ${f(r.seconds, 2)} | ${f(r.tokens_per_s)} | ${f(r.ttft_ms.p50, 0)} | ${f(r.ttft_ms.p95, 0)} | ${f(r.itl_ms.p50, 0)} | ${f(r.itl_ms.p95, 0)} | ${f(r.tokens_per_chunk)} | ${f(r.sequences_per_forward, 2)} | ${f(100 * r.forward_busy, 0)}% | ${base ? `${f(r.tokens_per_s / base, 2)}×` : '–'} |`,
      );
    }
    console.log('');
    console.log(
      `speedup at 16 streams: ${result.speedup_at_16 === null ? 'n/a (needs levels 1 and 16)' : `${f(result.speedup_at_16, 2)}×`}`,
    );
  } finally {
    server.proc.kill('SIGTERM');
    await Promise.race([once(server.proc, 'exit'), new Promise((r) => setTimeout(r, 10_000))]);
    if (server.proc.exitCode === null) server.proc.kill('SIGKILL');
  }
});
