/**
 * Foreground work in this isolate (or Node process): model forwards waiting for their turn or running, which is
 * what a small request's latency is made of. A large body's CPU steps (decoding and parsing 1 MiB of JSON: a few
 * ms each that cannot be split) defer to it: they run when no forward waits or runs, or once they have deferred
 * long enough. On Node a forward runs off the event loop, so without this a parse started during another tenant's
 * forward would hold that tenant's next step; yielding a few tasks alone lets every big body's step into each gap.
 *
 * Entries, not a counter: on workerd a cancelled request's code may never resume to end its entry, so an entry
 * older than STALE_MS no longer counts (and is removed).
 */
import { nextTask as macrotask } from '../model/next-task.ts';

/** An entry this old is treated as abandoned (no forward of an in-process model takes this long). */
const STALE_MS = 10_000;

const active = new Map<symbol, number>();

/** Marks foreground work begun; call the returned function when it ends (more calls are harmless). */
export function beginForeground(): () => void {
  const id = Symbol();
  active.set(id, Date.now());
  return () => void active.delete(id);
}

/** Whether foreground work is waiting or running now. */
export function foregroundBusy(now = Date.now()): boolean {
  for (const [id, since] of active) {
    if (now - since < STALE_MS) return true;
    active.delete(id);
  }
  return false;
}

export interface DeferOptions {
  /** Tasks to wait in any case (other requests' next steps run at each). */
  minTasks: number;
  /** The longest wait for the foreground to be idle, in tasks and in ms (whichever comes first); then the step
   * runs anyway. Both: on workerd the clock may stand still across zero-delay timers. */
  maxTasks: number;
  maxMs: number;
  /** How to wait one task (default a timer of the caller's own request, as workerd requires). */
  nextTask?: () => Promise<void>;
}

/** Waits `minTasks` tasks, then while the foreground is busy, up to `maxTasks` tasks and `maxMs` in all. */
export async function deferToForeground({
  minTasks,
  maxTasks,
  maxMs,
  nextTask = macrotask,
}: DeferOptions): Promise<void> {
  const until = Date.now() + maxMs;
  let tasks = 0;
  for (; tasks < minTasks; tasks++) await nextTask();
  for (; tasks < maxTasks && foregroundBusy() && Date.now() < until; tasks++) await nextTask();
}
