/** A minimal Prometheus registry: counters, gauges and histograms with fixed label sets, text format 0.0.4. */

export type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

interface Metric {
  render(): string[];
}

abstract class Family<S> implements Metric {
  protected readonly series = new Map<string, { labels: Labels; state: S }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly kind: 'counter' | 'gauge' | 'histogram',
  ) {}

  protected get(labels: Labels): S {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, state: this.initial() };
      this.series.set(key, s);
    }
    return s.state;
  }

  protected abstract initial(): S;
  protected abstract lines(labels: Labels, state: S): string[];

  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.kind}`];
    for (const { labels, state } of this.series.values()) out.push(...this.lines(labels, state));
    return out;
  }
}

export class Counter extends Family<{ value: number }> {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new RangeError(`counter ${this.name} cannot decrease`);
    this.get(labels).value += by;
  }

  /** Makes a series exist (at 0) before its first increment. */
  touch(labels: Labels = {}): void {
    this.get(labels);
  }

  value(labels: Labels = {}): number {
    return this.get(labels).value;
  }

  protected initial() {
    return { value: 0 };
  }

  protected lines(labels: Labels, { value }: { value: number }): string[] {
    return [`${this.name}${labelText(labels)} ${num(value)}`];
  }
}

/** A gauge whose value is read at scrape time. */
export class Gauge extends Family<{ read: () => number }> {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }

  set(labels: Labels, read: () => number): void {
    this.get(labels).read = read;
  }

  protected initial() {
    return { read: () => 0 };
  }

  protected lines(labels: Labels, { read }: { read: () => number }): string[] {
    return [`${this.name}${labelText(labels)} ${num(read())}`];
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Family<HistogramState> {
  constructor(
    name: string,
    help: string,
    private readonly buckets: readonly number[],
  ) {
    super(name, help, 'histogram');
  }

  observe(labels: Labels, value: number): void {
    const s = this.get(labels);
    s.sum += value;
    s.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
  }

  touch(labels: Labels = {}): void {
    this.get(labels);
  }

  protected initial(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  protected lines(labels: Labels, s: HistogramState): string[] {
    const out = this.buckets.map(
      (le, i) => `${this.name}_bucket${labelText({ ...labels, le: num(le) })} ${s.counts[i]}`,
    );
    out.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${s.count}`);
    out.push(
      `${this.name}_sum${labelText(labels)} ${num(s.sum)}`,
      `${this.name}_count${labelText(labels)} ${s.count}`,
    );
    return out;
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];

  register<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }

  /** The text exposition format (Content-Type `text/plain; version=0.0.4`). */
  render(): string {
    return `${this.metrics.flatMap((m) => m.render()).join('\n')}\n`;
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
