/**
 * CLI: npm run bench:structured -- [--models demo,tiny] [--prompts 12] [--threshold 0.9] [--max-tokens 64] [--json]
 *
 * What structured output costs: the same prompts decoded (cached mode, greedy, onnxruntime-node) without a grammar,
 * with response_format json_object and with a json_schema, alternating request by request in one process. Prints
 * ms per answer, forwards per answer, tokens per forward (TPF: committed tokens / forwards), answer length, the share
 * that finished (stop) and that validated, and the one-time schema compile; the machine named.
 */
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { generate, type ConstraintSource, type DecodeResult } from '../src/decode/index.ts';
import { GrammarService } from '../src/grammar/index.ts';
import { floatFlag, intFlag, parseFlags, runMain, UsageError } from '../backends/node/cli.ts';
import { modelCodec, openModel } from '../backends/node/open-model.ts';
import { nodeXGrammar } from '../backends/node/xgrammar-node.ts';
import { TINY, ensureBenchPackage } from './model/models.ts';
import { promptIds } from '../training/examples.ts';
import { TASKS, heldOutExamples } from '../training/tasks.ts';
import { schemaValidator } from '../test/fixtures/schemas.ts';

const log = (line: string) => process.stderr.write(`bench-structured: ${line}\n`);
const SCHEMA = {
  type: 'object',
  properties: {
    task: { enum: ['sort', 'add'] },
    answer: { type: 'string', maxLength: 12 },
    confident: { type: 'boolean' },
  },
  required: ['task', 'answer', 'confident'],
  additionalProperties: false,
};

interface Row {
  model: string;
  format: string;
  answers: number;
  msPerAnswer: number;
  forwardsPerAnswer: number;
  tokensPerForward: number;
  tokensPerAnswer: number;
  finished: number;
  valid: number;
}

runMain('bench-structured', async () => {
  const { values: v } = parseFlags(
    process.argv.slice(2),
    {
      models: { type: 'string' },
      prompts: { type: 'string' },
      threshold: { type: 'string' },
      'max-tokens': { type: 'string' },
      json: { type: 'boolean' },
    },
    false,
  );
  const models = (v.models ?? 'demo,tiny').split(',').map((m) => m.trim());
  for (const m of models)
    if (m !== 'demo' && m !== 'tiny') throw new UsageError(`--models: unknown "${m}" (demo, tiny)`);
  const count = intFlag(v.prompts, 'prompts', 1) ?? 12;
  const threshold = floatFlag(v.threshold, 'threshold') ?? 0.9;
  const maxTokens = intFlag(v['max-tokens'], 'max-tokens', 8) ?? 64;
  const grammar = new GrammarService({ runtime: nodeXGrammar });
  const validate = schemaValidator();
  const rows: Row[] = [];
  const compiles: Record<string, number> = {};
  for (const name of models) {
    const dir =
      name === 'demo' ? resolve('assets/demo-model') : (await ensureBenchPackage(TINY, log)).dir;
    const opened = await openModel(dir);
    const { runner } = opened;
    const codec = modelCodec(opened);
    const model = { codec, info: runner.info };
    let t0 = performance.now();
    const formats: [string, ConstraintSource | undefined, object | null][] = [
      ['text', undefined, null],
      ['json_object', (await grammar.constraintFor({ type: 'json_object' }, model))!, null],
    ];
    compiles[`${name} json_object`] = performance.now() - t0;
    t0 = performance.now();
    const schemaFormat = {
      type: 'json_schema',
      json_schema: { name: 'answer', schema: SCHEMA, strict: true },
    };
    formats.push(['json_schema', (await grammar.constraintFor(schemaFormat, model))!, SCHEMA]);
    compiles[`${name} json_schema`] = performance.now() - t0;
    const examples = [
      ...heldOutExamples(TASKS.sort, count),
      ...heldOutExamples(TASKS.add, count),
    ].slice(0, count);
    const sums = formats.map(() => ({
      ms: 0,
      forwards: 0,
      committed: 0,
      tokens: 0,
      finished: 0,
      valid: 0,
    }));
    log(`${name}: ${examples.length} prompts × ${formats.length} formats`);
    // Warm-up (kernels, JIT), not measured.
    await generate(runner, promptIds(codec, examples[0].prompt), { maxTokens: 8 });
    for (const ex of examples) {
      const ids = promptIds(codec, ex.prompt);
      for (const [i, [, constraint, schema]] of formats.entries()) {
        const t = performance.now();
        const r: DecodeResult = await generate(runner, ids, {
          maxTokens,
          threshold,
          mode: 'cached',
          ...(constraint ? { constraint } : {}),
        });
        const s = sums[i];
        s.ms += performance.now() - t;
        s.forwards += r.stats.forwards;
        s.committed += r.stats.committedTokens;
        s.tokens += r.tokens.length;
        if (r.finishReason === 'stop') {
          s.finished++;
          if (constraint) {
            try {
              const value = JSON.parse(codec.decode(r.tokens));
              if (schema ? validate(schema, value) === null : typeof value === 'object') s.valid++;
            } catch {
              /* counted as invalid */
            }
          } else s.valid++;
        }
      }
    }
    formats.forEach(([format], i) => {
      const s = sums[i];
      const n = examples.length;
      rows.push({
        model: name,
        format,
        answers: n,
        msPerAnswer: s.ms / n,
        forwardsPerAnswer: s.forwards / n,
        tokensPerForward: s.committed / s.forwards,
        tokensPerAnswer: s.tokens / n,
        finished: s.finished / n,
        valid: s.valid / n,
      });
    });
  }
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}, onnxruntime-node (CPU)`;
  if (v.json) {
    process.stdout.write(
      `${JSON.stringify({ machine, threshold, maxTokens, compiles, rows }, null, 2)}\n`,
    );
    return;
  }
  const out = [
    `machine: ${machine}; greedy, cached, threshold ${threshold}, max_tokens ${maxTokens}`,
    '| model | format | ms/answer | forwards/answer | TPF | tokens/answer | finished | valid |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.format} | ${r.msPerAnswer.toFixed(1)} | ${r.forwardsPerAnswer.toFixed(1)} | ${r.tokensPerForward.toFixed(2)} | ${r.tokensPerAnswer.toFixed(1)} | ${(100 * r.finished).toFixed(0)} % | ${(100 * r.valid).toFixed(0)} % |`,
    ),
    `schema compile (first time, ms): ${Object.entries(compiles)
      .map(([k, ms]) => `${k} ${ms.toFixed(0)}`)
      .join(', ')}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
});
