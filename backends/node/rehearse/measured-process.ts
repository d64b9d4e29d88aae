/**
 * Runs one stage of the rehearsal as its own Node process and measures it: wall time, and peak RSS per phase
 * from two sources that cover each other's gaps: the process's own high-water marks (rss-report.ts, exact
 * but cumulative) and samples of /proc/<pid>/status for the process and its descendants (per phase).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { RSS_REPORT_ENV, type RssMark } from './rss-report.ts';

const REPORTER = fileURLToPath(new URL('./rss-report.ts', import.meta.url));
const SAMPLE_MS = 200;

export interface PhaseMeasure {
  phase: string;
  wallMs: number;
  peakRssBytes: number;
}

export interface MeasuredRun {
  code: number;
  stdout: string;
  /** The last stderr lines (for error messages). */
  stderrTail: string[];
  wallMs: number;
  peakRssBytes: number;
  /** Phases the process marked (at least one: 'main'). */
  phases: PhaseMeasure[];
}

export interface MeasuredOptions {
  env?: Record<string, string | undefined>;
  /** Where the RSS marks are written (removed afterwards). */
  reportFile: string;
  /** Each stderr line as it arrives (progress). */
  onStderrLine?: (line: string) => void;
  /** Each stdout line as it arrives. */
  onStdoutLine?: (line: string) => void;
  /** Aborting sends SIGTERM (for servers, which run until stopped). */
  signal?: AbortSignal;
}

/** RSS of `pid` and all its descendants, in bytes (0 once it has exited). */
export function treeRssBytes(pid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid)!.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      /* exited */
    }
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

/**
 * Runs `node --import tsx --import rss-report.ts <args>`; resolves when it exits (never rejects for a
 * non-zero exit: the caller decides).
 */
export async function runMeasured(args: string[], opts: MeasuredOptions): Promise<MeasuredRun> {
  await rm(opts.reportFile, { force: true });
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', REPORTER, ...args], {
    // NODE_NO_WARNINGS: the AWS SDK's Node-version notice would repeat in every stage's log.
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...opts.env, [RSS_REPORT_ENV]: opts.reportFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = () => child.kill('SIGTERM');
  opts.signal?.addEventListener('abort', stop, { once: true });
  const samples: { at: number; bytes: number }[] = [];
  const timer = setInterval(() => {
    if (child.pid) samples.push({ at: Date.now(), bytes: treeRssBytes(child.pid) });
  }, SAMPLE_MS);
  let stdout = '';
  const stderrTail: string[] = [];
  const lines = (onLine: (line: string) => void) => {
    let rest = '';
    return (data: Buffer) => {
      rest += data.toString();
      const parts = rest.split('\n');
      rest = parts.pop()!;
      for (const line of parts) onLine(line);
    };
  };
  child.stdout.on(
    'data',
    lines((line) => {
      stdout += `${line}\n`;
      opts.onStdoutLine?.(line);
    }),
  );
  child.stderr.on(
    'data',
    lines((line) => {
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
      opts.onStderrLine?.(line);
    }),
  );
  const code = await new Promise<number>((resolve) => {
    child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    child.on('error', () => resolve(127));
  });
  clearInterval(timer);
  opts.signal?.removeEventListener('abort', stop);
  const ended = Date.now();
  const marks = await readMarks(opts.reportFile);
  await rm(opts.reportFile, { force: true });
  const phases = phaseMeasures(marks, samples, started, ended);
  return {
    code,
    stdout,
    stderrTail,
    wallMs: ended - started,
    peakRssBytes: Math.max(0, ...phases.map((p) => p.peakRssBytes)),
    phases,
  };
}

async function readMarks(path: string): Promise<RssMark[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as RssMark);
}

/**
 * Splits the run at its phase marks. A phase's peak is the largest sample inside it, raised to the process's
 * high-water mark at the phase end when that mark grew during the phase (it was reached inside it).
 */
export function phaseMeasures(
  marks: RssMark[],
  samples: { at: number; bytes: number }[],
  started: number,
  ended: number,
): PhaseMeasure[] {
  const starts = marks.filter((m) => m.phase !== 'exit');
  const exit = marks.find((m) => m.phase === 'exit');
  // Start-up (before the first mark) counts towards the first phase; a process that marks none has one, 'main'.
  const bounds = starts.length ? starts : [{ phase: 'main', at: started, peakBytes: 0 }];
  const out: PhaseMeasure[] = [];
  for (const [i, b] of bounds.entries()) {
    const next = bounds[i + 1];
    const end = next?.at ?? ended;
    const hwmBefore = i === 0 ? 0 : b.peakBytes;
    const hwmAfter = next?.peakBytes ?? exit?.peakBytes ?? 0;
    let peak = 0;
    const from = i === 0 ? started : b.at;
    for (const s of samples) if (s.at >= from && s.at < end) peak = Math.max(peak, s.bytes);
    if (hwmAfter > hwmBefore) peak = Math.max(peak, hwmAfter);
    out.push({ phase: b.phase, wallMs: end - from, peakRssBytes: peak });
  }
  return out;
}
