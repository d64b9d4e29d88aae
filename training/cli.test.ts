import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { UsageError } from '../backends/node/cli.ts';
import { parseTrainArgs } from './options.ts';

function run(
  script: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      env: { ...process.env, UNMASK_DEBUG: '', UNMASK_API_KEY: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const BAD_TRAIN: [string[], RegExp][] = [
  [['--batch', '0'], /--batch must be an integer ≥ 1/],
  [['--resume', '/nonexistent/unmask-run'], /not a train-tiny checkpoint/],
];

const BAD_BENCH: [string[], RegExp][] = [
  [['--limit', '0'], /--limit must be an integer ≥ 1/],
  [['--model', '/nonexistent/pkg'], /not a model package/],
  [['--api', 'localhost 8787'], /--api must be a URL/],
  [
    ['--api', 'http://127.0.0.1:8787', '--mode', 'cached'],
    /--mode applies to a local package, not to --api/,
  ],
  [['--api', 'http://127.0.0.1:8787'], /--api needs an API key in UNMASK_API_KEY/],
];

describe('option parsing', () => {
  test('defaults, a curriculum, and the flags a resume must match', () => {
    const o = parseTrainArgs([
      '--task',
      'all',
      '--first',
      'add:600',
      '--seed',
      '3',
      '--minutes',
      '1.5',
    ]);
    assert.deepEqual(o.settings.tasks, ['sort', 'add', 'tool']);
    assert.equal(o.settings.maxPositions, 4096);
    assert.equal(o.settings.model.denseLayers, 1);
    assert.deepEqual(o.settings.curriculum, { task: 'add', steps: 600 });
    assert.equal(o.settings.blockLength, 8);
    assert.equal(o.session.minutes, 1.5);
    assert.equal(o.session.out, '.cache/train-tiny/all');
    assert.deepEqual(o.given.sort(), ['curriculum', 'seed', 'tasks']);
    assert.deepEqual(parseTrainArgs(['--weights', 'sort:4,add:1']).settings.weights, {
      sort: 4,
      add: 1,
    });
  });

  test('bad values throw one-line usage errors', () => {
    const bad: [string[], RegExp][] = [
      [['--task', 'nope'], /unknown task "nope"; known: sort, add, tool, all/],
      [['--experts', '12', '--groups', '8'], /--experts \(12\) must split into --groups \(8\)/],
      [['--topk-group', '5'], /--topk-group \(5\) exceeds --groups \(4\)/],
      [
        ['--experts-per-tok', '9'],
        /--experts-per-tok \(9\) exceeds the experts of --topk-group groups \(8\)/,
      ],
      [['--dense-layers', '4'], /--dense-layers \(4\) exceeds --layers \(3\)/],
      [['--bias-rate', '1.5'], /--bias-rate must be in \[0, 1\)/],
      [['--block', 'x'], /--block must be an integer/],
      [['--frobnicate'], /Unknown option '--frobnicate'/],
      [['--heads', '3', '--kv-heads', '2'], /--heads \(3\) must be a multiple of --kv-heads \(2\)/],
      [['--minutes', '0'], /--minutes must be > 0/],
      [['--head-dim', '18'], /--head-dim must be a multiple of 4/],
      [
        ['--task', 'sort', '--first', 'add:10'],
        /--first must be TASK:STEPS with one of the trained tasks \(sort\)/,
      ],
      [['--backend', 'gpu'], /--backend must be wasm or cpu/],
      [['--weights', 'sort:0'], /--weights must be TASK:W,\.\.\. over the trained tasks/],
    ];
    for (const [args, re] of bad) {
      assert.throws(
        () => parseTrainArgs(args),
        (e: unknown) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n'),
        args.join(' '),
      );
    }
  });
});

describe('CLI errors', () => {
  test('train-tiny and bench:quality reject bad options with one line and exit 1', async () => {
    const cases = [
      ...BAD_TRAIN.map(([args, re]) => ({
        script: 'scripts/train-tiny.ts',
        tool: 'train-tiny',
        args,
        re,
      })),
      ...BAD_BENCH.map(([args, re]) => ({
        script: 'benchmarks/quality.ts',
        tool: 'bench:quality',
        args,
        re,
      })),
    ];
    const results = await Promise.all(cases.map((c) => run(c.script, c.args)));
    cases.forEach((c, i) => {
      const r = results[i];
      assert.equal(r.code, 1, `${c.tool} ${c.args.join(' ')}: exit ${r.code}`);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(
        lines.length,
        1,
        `${c.tool} ${c.args.join(' ')}: stderr ${JSON.stringify(r.stderr)}`,
      );
      assert.match(lines[0], new RegExp(`^${c.tool.replace(':', '\\:')}: `));
      assert.match(lines[0], c.re);
    });
  });

  test('--help prints the usage and exits 0', async () => {
    const r = await run('scripts/train-tiny.ts', ['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: npm run train-tiny/);
  });
});
