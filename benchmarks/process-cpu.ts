/**
 * CPU time of a child process from Linux's /proc (user + system, all its threads), so a benchmark can report what
 * a cold start costs in CPU next to its wall time: on a shared machine the wall time stretches with the load
 * average, the CPU time much less. Elsewhere (no /proc) every reading is null.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc's utime and stime (100 on every Linux ABI Node runs on). */
const TICKS_PER_SECOND = 100;

/** Fields after the command name in /proc/<pid>/stat: the name is in parentheses and may hold spaces. */
function statFields(pid: number): { name: string; fields: string[] } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  return { name: stat.slice(open + 1, close), fields: stat.slice(close + 2).split(' ') };
}

/** Pids of this process's children named `name` (as /proc/<pid>/stat spells it, at most 15 characters). */
export function childPids(name: string, parent = process.pid): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      const stat = statFields(pid);
      // fields[1] is the parent pid (field 4 of stat).
      return stat !== null && stat.name === name && Number(stat.fields[1]) === parent;
    });
}

/** User + system CPU ms the process has used so far, or null when it is gone or there is no /proc. */
export function processCpuMs(pid: number): number | null {
  const stat = statFields(pid);
  if (!stat) return null;
  // utime and stime are fields 14 and 15 of stat: 12 and 13 after the name.
  const ticks = Number(stat.fields[11]) + Number(stat.fields[12]);
  return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : null;
}
