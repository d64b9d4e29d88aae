/**
 * The `server-timing` response header of the generation routes (W3C Server Timing): where a request's time went,
 * e.g. `admission;dur=0.8, model;dur=6.1, total;dur=7.2` (milliseconds). `admission` is the limiter call (on
 * Workers, the one Durable Object round trip that checks the key and admits), `model` the generation with its
 * answer, `total` the handler from its first check. On Workers the clock (Date.now, performance.now) only advances
 * across I/O, so what is timed here are awaited calls: CPU-only work between them reads as 0, and `total` minus
 * the named spans is the I/O-free remainder plus whatever other I/O (the model package's first fetch) happened.
 */
export class ServerTiming {
  private readonly started = performance.now();
  private readonly spans = new Map<string, number>();

  /** Awaits `work` and adds its duration to the span `name` (a retried admission counts twice). */
  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      this.spans.set(name, (this.spans.get(name) ?? 0) + performance.now() - t0);
    }
  }

  /** The header value: every span so far, then `total` since construction. */
  header(): string {
    const entries = [...this.spans, ['total', performance.now() - this.started] as const];
    return entries.map(([name, ms]) => `${name};dur=${ms.toFixed(2)}`).join(', ');
  }
}

/** Parses a `server-timing` header into name → milliseconds (entries without `dur` are left out). */
export function parseServerTiming(value: string | null): Record<string, number> {
  const spans: Record<string, number> = {};
  for (const entry of value?.split(',') ?? []) {
    const [name, ...params] = entry.trim().split(';');
    const dur = params.map((p) => p.trim()).find((p) => p.startsWith('dur='));
    if (name && dur) spans[name] = Number(dur.slice(4));
  }
  return spans;
}
