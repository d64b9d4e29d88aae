/**
 * CLI: npm run bench:prefix -- [--models tiny,bench] [--shared 512] [--requests 8] [--gen 32] [--threads 1] [--json]
 *
 * The prompt-prefix cache on a chat-like load: `--requests` prompts that share a `--shared`-token system prompt
 * and differ in a 24-token user part, decoded (cached mode, greedy, block 32, threshold 0.95) without the cache and
 * with it, alternating request by request in one process on onnxruntime-node. Every pair must give the same
 * tokens. Prints ms per request, prefill ms and prompt positions prefilled, and the ratios; the machine named.
 */
import { cpus } from 'node:os';
import { PrefixCache, generate, type DecodeResult } from '../src/decode/index.ts';
import { BENCH, TINY, ensureBenchPackage, type BenchModelSpec } from './model/models.ts';
import { intFlag, parseFlags, runMain, UsageError } from '../backends/node/cli.ts';
import { openModel } from '../backends/node/open-model.ts';

const MODELS: Record<string, BenchModelSpec> = { tiny: TINY, bench: BENCH };
const USER_TOKENS = 24;
const log = (line: string) => process.stderr.write(`bench-prefix: ${line}\n`);

function ids(seed: number, length: number, vocab: number): number[] {
  let x = seed >>> 0;
  return Array.from({ length }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % (vocab - 8);
  });
}

interface Side {
  ms: number;
  prefillMs: number;
  prefilled: number;
  forwards: number;
}

runMain('bench-prefix', async () => {
  const { values: v } = parseFlags(
    process.argv.slice(2),
    {
      models: { type: 'string' },
      shared: { type: 'string' },
      requests: { type: 'string' },
      gen: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'boolean' },
    },
    false,
  );
  const specs = (v.models ?? 'tiny,bench').split(',').map((n) => {
    const spec = MODELS[n.trim()];
    if (!spec)
      throw new UsageError(
        `--models: unknown model "${n}" (known: ${Object.keys(MODELS).join(', ')})`,
      );
    return spec;
  });
  const shared = intFlag(v.shared, 'shared', 32) ?? 512;
  const requests = intFlag(v.requests, 'requests', 2) ?? 8;
  const gen = intFlag(v.gen, 'gen', 1) ?? 32;
  const threads = intFlag(v.threads, 'threads', 1) ?? 1;
  const rows: Record<string, unknown>[] = [];
  for (const spec of specs) {
    const { dir } = await ensureBenchPackage(spec, log);
    const model = await openModel(dir, { threads });
    const vocab = model.runner.info.vocabSize;
    const system = ids(7, shared, vocab);
    const options = { maxTokens: gen, blockLength: 32, threshold: 0.95 };
    const cache = new PrefixCache({ maxBytes: 256 * 2 ** 20 });
    await generate(model.runner, [...system, ...ids(999, USER_TOKENS, vocab)], options); // warm the runtime
    const totals = { plain: [] as Side[], cached: [] as Side[] };
    const wholeBlocks = Math.floor((shared + USER_TOKENS) / 32) * 32;
    const side = (r: DecodeResult, ms: number): Side => ({
      ms,
      prefillMs: r.stats.prefillMs,
      prefilled: wholeBlocks - r.stats.cachedPromptTokens,
      forwards: r.stats.forwards,
    });
    for (let i = 0; i < requests; i++) {
      const prompt = [...system, ...ids(100 + i, USER_TOKENS, vocab)];
      let t0 = performance.now();
      const plain = await generate(model.runner, prompt, options);
      const plainMs = performance.now() - t0;
      t0 = performance.now();
      const cached = await generate(model.runner, prompt, { ...options, prefixCache: cache });
      const cachedMs = performance.now() - t0;
      if (plain.tokens.join() !== cached.tokens.join())
        throw new Error(`${spec.name}: request ${i} differs with the prefix cache`);
      // The first request fills the cache; the rest are what a warm server sees.
      if (i === 0) continue;
      totals.plain.push(side(plain, plainMs));
      totals.cached.push(side(cached, cachedMs));
      log(
        `${spec.name}: request ${i}: ${plainMs.toFixed(1)} ms → ${cachedMs.toFixed(1)} ms (cached ${cached.stats.cachedPromptTokens} prompt positions)`,
      );
    }
    const mean = (xs: Side[], k: keyof Side) => xs.reduce((s, x) => s + x[k], 0) / xs.length;
    rows.push({
      model: spec.name,
      shared_tokens: shared,
      user_tokens: USER_TOKENS,
      gen,
      ms_plain: mean(totals.plain, 'ms'),
      ms_cached: mean(totals.cached, 'ms'),
      prefill_ms_plain: mean(totals.plain, 'prefillMs'),
      prefill_ms_cached: mean(totals.cached, 'prefillMs'),
      prefilled_plain: mean(totals.plain, 'prefilled'),
      prefilled_cached: mean(totals.cached, 'prefilled'),
      speedup: mean(totals.plain, 'ms') / mean(totals.cached, 'ms'),
    });
  }
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs, Node ${process.version}, onnxruntime-node, ${threads} thread(s)`;
  if (v.json) {
    process.stdout.write(`${JSON.stringify({ machine, rows })}\n`);
    return;
  }
  const f = (x: unknown) => (x as number).toFixed(1);
  process.stdout.write(
    [
      `bench:prefix — ${requests - 1} warm requests sharing a ${shared}-token prefix + ${USER_TOKENS} own tokens, ${gen} generated (${machine})`,
      '',
      '| model | ms/request without → with cache | prefill ms | prompt positions prefilled | speedup |',
      '|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.model} | ${f(r.ms_plain)} → ${f(r.ms_cached)} | ${f(r.prefill_ms_plain)} → ${f(r.prefill_ms_cached)} | ${f(r.prefilled_plain)} → ${f(r.prefilled_cached)} | ${(r.speedup as number).toFixed(2)}× |`,
      ),
      '',
    ].join('\n'),
  );
});
