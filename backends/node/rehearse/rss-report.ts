/**
 * Loaded into every process the rehearsal starts (`node --import <this file>`): when UNMASK_RSS_REPORT names a
 * file, the process appends its peak RSS (the kernel's high-water mark, so nothing between two samples is
 * missed) at each phase mark and at exit, one JSON line each.
 */
import { appendFileSync } from 'node:fs';

export const RSS_REPORT_ENV = 'UNMASK_RSS_REPORT';

export interface RssMark {
  /** A phase that starts now, or 'exit'. */
  phase: string;
  /** Epoch ms. */
  at: number;
  /** Peak RSS of the process so far, in bytes. */
  peakBytes: number;
}

function write(phase: string): void {
  const path = process.env[RSS_REPORT_ENV];
  if (!path) return;
  const mark: RssMark = { phase, at: Date.now(), peakBytes: process.resourceUsage().maxRSS * 1024 };
  appendFileSync(path, `${JSON.stringify(mark)}\n`);
}

/** Marks the start of a phase (its peak RSS is reported separately from the one before). */
export function markPhase(phase: string): void {
  write(phase);
}

if (process.env[RSS_REPORT_ENV]) process.on('exit', () => write('exit'));
