/**
 * The suite's figures per deployment: counters that must be zero, measurements reported beside them, and the
 * findings behind every non-zero counter (which scenario, what was seen). Renders the table and the JSON.
 */
import type { Exchange } from './http.ts';

/** Counters; every one but `requests` must be zero. */
export const COUNTERS = {
  requests: 'requests tried',
  serverErrors: '5xx responses',
  transportErrors: 'connections cut by the server',
  unanswered: 'requests left without an answer (client timeout)',
  crashes: 'server crashes',
  limitViolations: 'limit violations',
  usageRecordsLost: 'usage records lost (beyond the window)',
  tenantsLost: 'tenants or keys lost (kill -9)',
  tokensNotCharged: 'tokens delivered but not charged',
  ranOn: 'requests computing after the client left',
  stuckSlots: 'stuck concurrency slots',
  forgedTurns: 'forged turns',
  injectionRefused: 'plain text containing special tokens refused',
  slowDown:
    'p50 latency over its bound beside attacks (phases; --long 2× idle, default 10× and 1 s)',
  memory: 'server memory over its bound',
  knownGaps:
    'known gaps, Worker in workerd (a non-stream closed while computing runs to its end; docs/workerd.md §5)',
} as const;
export type Counter = keyof typeof COUNTERS;
/** Reported, not must-be-zero: `requests`, and the known gaps (README "Security and reliability"). */
const REPORTED_ONLY: readonly Counter[] = ['requests', 'knownGaps'];
export const MUST_BE_ZERO = (Object.keys(COUNTERS) as Counter[]).filter(
  (c) => !REPORTED_ONLY.includes(c),
);

/** Measurements: reported, not judged by themselves (their judgements are counters). */
export const MEASURES = {
  p50IdleMs: 'p50 latency idle (ms)',
  p50AttackMs: 'p50 latency under adversarial prompts (ms)',
  attackSlowdown: 'p50 under adversarial prompts ÷ idle (×)',
  maxAttackMs: 'slowest request under adversarial prompts (ms)',
  p50BenignMs: 'p50 latency beside as many well-behaved clients (ms)',
  benignSlowdown: 'p50 beside well-behaved clients ÷ idle (×)',
  p50SlowIdleMs: 'p50 latency idle, slow-readers phase (ms)',
  p50SlowReadersMs: 'p50 latency beside slow readers (ms)',
  slowReaderSlowdown: 'p50 beside slow readers ÷ idle (×)',
  slotFreeMaxMs: 'slot free again after a drop, max (ms)',
  usageLostInWindow: 'usage records lost within the window (kill -9)',
  staleTempFiles: 'temp files left in the data dir after kill -9',
  completedBeforeKill: 'responses completed before kill -9',
  rssGrowthMiB: 'server RSS growth beside slow readers (MiB)',
  slowStreamKiB: 'bytes slow readers received (KiB)',
} as const;
export type Measure = keyof typeof MEASURES;

export interface Finding {
  scenario: string;
  counter: Counter;
  count: number;
  /** What was seen, e.g. "stream dropped mid-stream: 107 tokens delivered, 0 charged" (the first example). */
  detail: string;
  /** How many times this kind of failure (same scenario, counter and subject) was seen. */
  times: number;
}

/** The subject of a detail: the text before its first colon. */
const subject = (detail: string) => detail.split(':')[0];

export class Tally {
  readonly counts: Record<Counter, number>;
  readonly measures: Partial<Record<Measure, number>> = {};
  readonly findings: Finding[] = [];
  /** Scenario → findings count, in run order (a scenario with 0 passed). */
  readonly scenarios: { name: string; findings: number; seconds: number; error?: string }[] = [];

  constructor(readonly deployment: string) {
    this.counts = Object.fromEntries(Object.keys(COUNTERS).map((k) => [k, 0])) as Record<
      Counter,
      number
    >;
  }

  /** Counts one exchange: a request tried, a 5xx, a connection the server cut (unless a crash was expected). */
  observe(e: Exchange, scenario: string, cutExpected = false): Exchange {
    this.counts.requests++;
    if (e.status !== null && e.status >= 500)
      this.fail(
        scenario,
        'serverErrors',
        1,
        `${e.label}: ${e.status} ${JSON.stringify(e.json ?? {}).slice(0, 200)}`,
      );
    if (e.transportError && !cutExpected)
      this.fail(
        scenario,
        'transportErrors',
        1,
        `${e.label}: ${e.transportError} (status ${e.status ?? 'none'})`,
      );
    return e;
  }

  fail(scenario: string, counter: Counter, count: number, detail: string): void {
    if (count <= 0) return;
    this.counts[counter] += count;
    // Repeats of one failure are folded into one line (with the first detail as the example).
    const same = this.findings.find(
      (f) =>
        f.scenario === scenario && f.counter === counter && subject(f.detail) === subject(detail),
    );
    if (same) {
      same.count += count;
      same.times++;
      return;
    }
    this.findings.push({ scenario, counter, count, detail, times: 1 });
  }

  measure(name: Measure, value: number): void {
    this.measures[name] = Math.round(value * 10) / 10;
  }

  failed(): boolean {
    return MUST_BE_ZERO.some((c) => this.counts[c] > 0) || this.scenarios.some((s) => s.error);
  }
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const cell = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : String(v));

/** The figures table (Markdown), one column per deployment, then the findings. */
export function renderTable(tallies: Tally[], machine: string): string {
  const head = `| figure | ${tallies.map((t) => t.deployment).join(' | ')} |`;
  const rule = `|---|${tallies.map(() => '---:').join('|')}|`;
  const rows = [
    ...(Object.keys(COUNTERS) as Counter[]).map(
      (c) =>
        `| ${COUNTERS[c]}${MUST_BE_ZERO.includes(c) ? ' ⁰' : ''} | ${tallies.map((t) => t.counts[c]).join(' | ')} |`,
    ),
    ...(Object.keys(MEASURES) as Measure[])
      .filter((m) => tallies.some((t) => t.measures[m] !== undefined))
      .map((m) => `| ${MEASURES[m]} | ${tallies.map((t) => cell(t.measures[m])).join(' | ')} |`),
  ];
  const lines = [`Reliability figures (${machine}; ⁰ = must be 0)`, '', head, rule, ...rows, ''];
  for (const t of tallies) {
    for (const s of t.scenarios) {
      const state = s.error ? `ERROR ${s.error}` : s.findings ? `${s.findings} finding(s)` : 'ok';
      lines.push(`${t.deployment} ${s.name}: ${state} (${s.seconds.toFixed(0)} s)`);
    }
    // At most 4 lines per scenario and counter; the rest are summed.
    const shown = new Map<string, Finding[]>();
    for (const f of t.findings) {
      const key = `${f.scenario}/${f.counter}`;
      shown.set(key, [...(shown.get(key) ?? []), f]);
    }
    for (const group of shown.values()) {
      for (const f of group.slice(0, 4))
        lines.push(
          `  ✗ ${t.deployment} ${f.scenario}: ${COUNTERS[f.counter]} +${f.count}${f.times > 1 ? ` (${f.times} times; first:)` : ''}: ${f.detail}`,
        );
      const rest = group.slice(4);
      if (rest.length)
        lines.push(
          `  ✗ ${t.deployment} ${rest[0].scenario}: ${COUNTERS[rest[0].counter]} +${rest.reduce((s, f) => s + f.count, 0)} more (${rest.length} other cases; --json lists them)`,
        );
    }
  }
  return lines.join('\n');
}

export function toJson(tallies: Tally[], machine: string, mode: string): Record<string, unknown> {
  return {
    machine,
    mode,
    failed: tallies.some((t) => t.failed()),
    deployments: Object.fromEntries(
      tallies.map((t) => [
        t.deployment,
        {
          counts: t.counts,
          measures: t.measures,
          scenarios: t.scenarios,
          findings: t.findings,
        },
      ]),
    ),
  };
}
