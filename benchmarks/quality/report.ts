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

export function qualityJson(sweeps: TaskSweep[], meta: QualityMeta): Record<string, unknown> {
  return {
    model: meta.model,
    runtime: meta.runtime,
    mode: meta.mode,
    block_length: meta.blockLength,
    limit: meta.limit,
    tasks: Object.fromEntries(
      sweeps.map((s) => [
        s.task,
        {
          examples: s.examples,
          accuracy_at_0_9: s.accuracyAt09,
          speedup_at_equal_accuracy: speedupJson(s.speedup, s.baseline.accuracy),
          speedup_within_1pt: speedupJson(s.speedupWithin1pt, s.baseline.accuracy),
          baseline: pointJson(s.baseline),
          points: s.points.map(pointJson),
        },
      ]),
    ),
  };
}
