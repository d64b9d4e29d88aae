/** A concurrency limit for storage requests: at most `n` run at once, the rest wait in FIFO order. */

export type ConcurrencyLimit = <T>(task: () => Promise<T>) => Promise<T>;

export function createConcurrencyLimit(n: number): ConcurrencyLimit {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`concurrency must be an integer ≥ 1, got ${n}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  return async function limit<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter, so `active` never overshoots.
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
