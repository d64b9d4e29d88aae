/**
 * @module
 * Renders the bench:quality sweep: a Markdown table per task, and the JSON document behind `--json`
 * (snake_case keys, with `accuracy_at_0_9` and `speedup_at_equal_accuracy` per task).
 */
import type { Speedup, SweepPoint, TaskSweep } from './sweep.ts';

export interface QualityMeta {
  model: string;
  runtime: string;
  mode: string;
  /** null: the server's default (measured through an API). */
  blockLength: number | null;
  limit: number;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

function row(p: SweepPoint, label?: string): string {
  return `| ${label ?? p.algorithm} | ${p.threshold === null ? 'default rule' : p.threshold.toFixed(2)} | ${pct(p.accuracy)} | ${p.tokensPerForward.toFixed(2)} | ${p.outputTokensPerForward.toFixed(2)} | ${p.forwardsPerAnswer.toFixed(2)} | ${p.msPerAnswer.toFixed(2)} |`;
}

export function qualityTable(sweeps: TaskSweep[], meta: QualityMeta): string {
  const lines: string[] = [
    `bench:quality — ${meta.model} (${meta.runtime}, ${meta.mode} mode, block ${meta.blockLength ?? 'server default'}), ${meta.limit} held-out prompts per task, greedy`,
    '',
  ];
  for (const s of sweeps) {
    lines.push(`### ${s.task} (${s.examples} prompts)`, '');
    lines.push(
      '| algorithm | threshold | exact match | TPF | answer TPF | forwards/answer | ms/answer |',
      '|---|---|---|---|---|---|---|',
    );
    lines.push(row(s.baseline, '1 token/forward (baseline)'));
    for (const p of s.points) lines.push(row(p));
    lines.push(
      '',
      `accuracy at 0.9 (low_confidence): ${s.accuracyAt09 === null ? 'n/a' : pct(s.accuracyAt09)} · baseline ${pct(s.baseline.accuracy)}`,
    );
    lines.push(
      `speedup at equal accuracy: ${speedupText(s.speedup)} · within 1 point: ${speedupText(s.speedupWithin1pt)}`,
      '',
    );
  }
  lines.push(
    meta.blockLength === null
      ? "Through the API: TPF = completion tokens ÷ forwards (the response's diffusion block, prefill forwards included); ms/answer is the HTTP round trip."
      : 'TPF: committed tokens ÷ forwards (EOS fill of decoded blocks included); answer TPF: (answer + <|role_end|> + EOS) ÷ forwards.',
  );
  return lines.join('\n');
}

function speedupText(sp: Speedup): string {
  if (!sp.setting) return 'no setting reaches it';
  const where = `${sp.setting.algorithm}${sp.setting.threshold === null ? '' : ` @ ${sp.setting.threshold}`}`;
  return `${sp.forwards!.toFixed(2)}× fewer forwards, ${sp.wall === null ? 'n/a' : `${sp.wall.toFixed(2)}×`} wall time (${where})`;
}

function speedupJson(sp: Speedup, baselineAccuracy: number) {
  return {
    forwards: sp.forwards,
    wall: sp.wall,
    setting: sp.setting,
    baseline_accuracy: baselineAccuracy,
  };
}

function pointJson(p: SweepPoint) {
  return {
    algorithm: p.algorithm,
    threshold: p.threshold,
    accuracy: p.accuracy,
    correct: p.correct,
    examples: p.examples,
    tokens_per_forward: p.tokensPerForward,
    answer_tokens_per_forward: p.outputTokensPerForward,
    forwards_per_answer: p.forwardsPerAnswer,
    ms_per_answer: p.msPerAnswer,
  };
}

function taskJson(s: TaskSweep) {
  return {
    examples: s.examples,
    accuracy_at_0_9: s.accuracyAt09,
    speedup_at_equal_accuracy: speedupJson(s.speedup, s.baseline.accuracy),
    speedup_within_1pt: speedupJson(s.speedupWithin1pt, s.baseline.accuracy),
    baseline: pointJson(s.baseline),
    points: s.points.map(pointJson),
  };
}

export function qualityJson(sweeps: TaskSweep[], meta: QualityMeta): Record<string, unknown> {
  return {
    model: meta.model,
    runtime: meta.runtime,
    mode: meta.mode,
    block_length: meta.blockLength,
    limit: meta.limit,
    tasks: Object.fromEntries(sweeps.map((s) => [s.task, taskJson(s)])),
  };
}

/** One package's sweep with what describes it. */
export interface PackageSweep {
  name: string;
  dir: string;
  /** e.g. `int4 dq/32, int8 kernel`. */
  encoding: string;
  dtype: string;
  bytes: number;
  wasmHeap: { afterCreate: number | null; afterForward: number | null } | null;
  sweeps: TaskSweep[];
}

/** The JSON of several packages: the first package's document as before, plus `packages.<name>`. */
export function packagesJson(packages: PackageSweep[], meta: QualityMeta): Record<string, unknown> {
  return {
    ...qualityJson(packages[0].sweeps, { ...meta, model: packages[0].dir }),
    packages: Object.fromEntries(
      packages.map((p) => [
        p.name,
        {
          dir: p.dir,
          encoding: p.encoding,
          dtype: p.dtype,
          bytes: p.bytes,
          wasm_heap_bytes: p.wasmHeap && {
            after_create: p.wasmHeap.afterCreate,
            after_forward: p.wasmHeap.afterForward,
          },
          tasks: Object.fromEntries(p.sweeps.map((s) => [s.task, taskJson(s)])),
        },
      ]),
    ),
  };
}

const mib = (b: number | null) => (b === null ? '?' : (b / 2 ** 20).toFixed(1));

/** Side by side: one summary row per package, then per task exact match by threshold (low_confidence). */
export function packagesTable(packages: PackageSweep[], meta: QualityMeta): string {
  const tasks = packages[0].sweeps.map((s) => s.task);
  const at = (s: TaskSweep, t: number) =>
    s.points.find((p) => p.algorithm === 'low_confidence' && p.threshold === t);
  const thresholds = [
    ...new Set(
      packages[0].sweeps[0].points
        .filter((p) => p.algorithm === 'low_confidence' && p.threshold !== null)
        .map((p) => p.threshold as number),
    ),
  ];
  const wasm = packages.some((p) => p.wasmHeap);
  const lines: string[] = [
    `bench:quality — ${packages.length} packages (${meta.runtime}, ${meta.mode} mode), ${meta.limit} held-out prompts per task, greedy, low_confidence`,
    '',
    `| package | encoding | MiB |${wasm ? ' wasm heap MiB (create / forward) |' : ''} ${tasks.map((t) => `${t} @0.9`).join(' | ')} |`,
    `|---|---|---|${wasm ? '---|' : ''}${tasks.map(() => '---|').join('')}`,
  ];
  for (const p of packages) {
    const heap = p.wasmHeap
      ? ` ${mib(p.wasmHeap.afterCreate)} / ${mib(p.wasmHeap.afterForward)} |`
      : '';
    const accs = p.sweeps.map((s) => (s.accuracyAt09 === null ? 'n/a' : pct(s.accuracyAt09)));
    lines.push(`| ${p.name} | ${p.encoding} | ${mib(p.bytes)} |${heap} ${accs.join(' | ')} |`);
  }
  for (const [ti, task] of tasks.entries()) {
    const first = packages[0].sweeps[ti];
    lines.push(
      '',
      `### ${task} (${first.examples} prompts): exact match · forwards per answer`,
      '',
      `| package | 1 token/forward | ${thresholds.join(' | ')} | TPF @0.9 | ms/answer @0.9 |`,
      `|---|---|${thresholds.map(() => '---|').join('')}---|---|`,
    );
    for (const p of packages) {
      const s = p.sweeps[ti];
      const cell = (q: SweepPoint | undefined) =>
        q ? `${pct(q.accuracy)} · ${q.forwardsPerAnswer.toFixed(2)}` : '-';
      const p09 = at(s, 0.9);
      lines.push(
        `| ${p.name} | ${cell(s.baseline)} | ${thresholds.map((t) => cell(at(s, t))).join(' | ')} | ${p09 ? p09.tokensPerForward.toFixed(2) : '-'} | ${p09 ? p09.msPerAnswer.toFixed(2) : '-'} |`,
      );
    }
  }
  lines.push(
    '',
    'Other commit rules and every number per setting: --json. TPF: committed tokens ÷ forwards.',
  );
  return lines.join('\n');
}
