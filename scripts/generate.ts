/**
 * CLI (contract): npm run generate -- --model <package-dir|s3://bucket/prefix> (--prompt-ids 3,17,42 | --prompt "text" [--chat])
 *   [--gen-length N] [--block-length B] [--steps S] [--threshold T] [--temperature T] [--top-k K] [--top-p P]
 *   [--seed N] [--eos-early-stop] [--strategy NAME] [--no-cache] [--runtime node|wasm] [--json]
 * With --json prints {"tokens":[...],"text":"...","forwards":N,"tpf":x,"stats":{...}} on stdout; otherwise streams
 * the text as blocks commit and prints stats on stderr.
 */
import { decode, type DecodeOptions, type DecodeResult } from '../src/decode/index.ts';
import { floatFlag, intFlag, parseFlags, runMain, UsageError } from '../backends/node/cli.ts';
import { modelCodec, openModel, RUNTIMES, type Runtime } from '../backends/node/open-model.ts';
import { ensureTinyPackage } from '../backends/node/tiny-package.ts';

const USAGE =
  'usage: generate [--model <package-dir|s3://bucket/prefix>] (--prompt-ids 3,17,42 | --prompt "text" [--chat]) [--gen-length N] [--block-length B] [--steps S] [--threshold T] [--temperature T] [--top-k K] [--top-p P] [--seed N] [--eos-early-stop] [--strategy NAME] [--no-cache] [--runtime node|wasm] [--json]';

function parseIds(text: string): number[] {
  return text.split(',').map((s) => {
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isInteger(n))
      throw new UsageError(
        `--prompt-ids must be comma-separated integers, got ${JSON.stringify(s)}`,
      );
    return n;
  });
}

runMain('generate', async () => {
  const { values: v } = parseFlags(
    process.argv.slice(2),
    {
      model: { type: 'string' },
      'prompt-ids': { type: 'string' },
      prompt: { type: 'string' },
      chat: { type: 'boolean' },
      'gen-length': { type: 'string' },
      'block-length': { type: 'string' },
      steps: { type: 'string' },
      threshold: { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      seed: { type: 'string' },
      'eos-early-stop': { type: 'boolean' },
      strategy: { type: 'string' },
      'no-cache': { type: 'boolean' },
      runtime: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    false,
  );
  if (v.help) {
    console.log(USAGE);
    return;
  }
  if ((v['prompt-ids'] === undefined) === (v.prompt === undefined))
    throw new UsageError(`give exactly one of --prompt-ids or --prompt; ${USAGE}`);
  if (v.chat && v.prompt === undefined) throw new UsageError('--chat applies to --prompt only');
  const runtime = (v.runtime ?? 'node') as Runtime;
  if (!RUNTIMES.includes(runtime))
    throw new UsageError(`--runtime must be one of ${RUNTIMES.join('|')}`);
  const dir = v.model ?? (await ensureTinyPackage({ quiet: false }));
  const model = await openModel(dir, { runtime });
  const codec = modelCodec(model);
  const promptIds =
    v['prompt-ids'] !== undefined
      ? parseIds(v['prompt-ids'])
      : codec.encode(
          v.chat ? codec.applyChatTemplate([{ role: 'user', content: v.prompt! }]) : v.prompt!,
        );
  const options: DecodeOptions = {
    maxTokens: intFlag(v['gen-length'], 'gen-length'),
    blockLength: intFlag(v['block-length'], 'block-length'),
    steps: intFlag(v.steps, 'steps'),
    threshold: floatFlag(v.threshold, 'threshold'),
    temperature: floatFlag(v.temperature, 'temperature'),
    topK: intFlag(v['top-k'], 'top-k'),
    topP: floatFlag(v['top-p'], 'top-p'),
    seed: intFlag(v.seed, 'seed'),
    eosEarlyStop: v['eos-early-stop'] ?? false,
    algorithm: v.strategy,
    mode: v['no-cache'] ? 'reference' : 'cached',
  };
  for (const k of Object.keys(options) as (keyof DecodeOptions)[])
    if (options[k] === undefined) delete options[k];
  let result: DecodeResult | undefined;
  for await (const event of decode(model.runner, promptIds, options)) {
    if (event.type === 'block' && !v.json) process.stdout.write(codec.decode(event.tokens));
    if (event.type === 'done') result = event.result;
  }
  if (!result) throw new Error('decode ended without a result');
  const text = codec.decode(result.tokens);
  const { stats } = result;
  if (v.json) {
    process.stdout.write(
      `${JSON.stringify({ tokens: result.tokens, text, forwards: stats.forwards, tpf: stats.tokensPerForward, finish_reason: result.finishReason, seed: result.seed, stats })}\n`,
    );
  } else {
    process.stdout.write('\n');
    process.stderr.write(
      `generate: ${result.tokens.length} tokens, ${stats.forwards} forwards, TPF ${stats.tokensPerForward.toFixed(2)}, ${stats.totalMs.toFixed(0)} ms (${runtime}, ${options.mode}), finish ${result.finishReason}\n`,
    );
  }
});
