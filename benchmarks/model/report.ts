/** Result types and plain-text tables of `npm run bench:model`. */
import type { MachineInfo, Timing } from './measure.ts';

export interface BenchSettings {
  quick: boolean;
  warmup: number;
  runs: number;
  /** ORT-node intraOpNumThreads. */
  threads: number;
  block: number;
}

export interface DtypeRow {
  model: string;
  variant: string;
  dtype: string;
  int4Layout: string | null;
  moe: string;
  packageBytes: number;
  packageMiB: number;
  /** ORT-node, full logits of the 32-token block vs the fp32 package's. */
  maxAbsDeltaLogits: number;
  top1AgreeWithFp32: number;
  node: { createMs: number; forward: Timing };
  wasm: {
    createMs: number;
    forward: Timing;
    /** WebAssembly.Memory size in MiB: at instantiation, after ORT init, after session create, after the forwards. */
    heapMiB: {
      initial: number | null;
      afterInit: number | null;
      afterCreate: number | null;
      afterForwards: number | null;
    };
    /** Same package, ORT-web vs ORT-node: largest difference of the (descending) top-k logits, and top-1 agreement. */
    maxAbsDeltaTopkVsNode: number;
    top1AgreeWithNode: number;
  };
}

export interface MoeRow {
  model: string;
  experts: number;
  topk: number;
  implementation: string;
  packageMiB: number;
  createMs: number;
  forward: Timing;
}

export interface BenchReport {
  machine: MachineInfo;
  settings: BenchSettings;
  rows: DtypeRow[];
  moeScaling: MoeRow[];
  totalMs: number;
}

/** Columns padded to width; `right[i]` right-aligns column i. */
export function formatTable(headers: string[], rows: string[][], right: boolean[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const mib = (x: number | null) => (x === null ? '?' : x.toFixed(1));
const delta = (x: number) => (x === 0 ? '0' : x.toExponential(1));
const pct = (x: number) => `${Math.round(x * 100)}%`;
/** Median forward ms with the fastest run in parentheses. */
const fwd = (t: Timing) => `${ms(t.medianMs)} (${ms(t.minMs)})`;

export function dtypeTable(rows: DtypeRow[]): string {
  const headers = [
    'model',
    'weights',
    'size MiB',
    'max|Δlogits|',
    'top1=fp32',
    'node create ms',
    'node fwd ms (min)',
    'node ×fp32 med/min',
    'wasm create ms',
    'wasm fwd ms (min)',
    'wasm ×fp32 med/min',
    'wasm heap MiB create/fwd',
    'wasm vs node Δtopk',
  ];
  // Ratios to the same model's fp32 row, of the medians and of the minima (timed in interleaved rounds; on a
  // loaded machine the minimum is the better estimate of a forward's own cost).
  const fp32 = (r: DtypeRow) => rows.find((x) => x.model === r.model && x.dtype === 'fp32');
  const ratio = (a: Timing, b: Timing | undefined) =>
    b ? `${(a.medianMs / b.medianMs).toFixed(2)} / ${(a.minMs / b.minMs).toFixed(2)}` : '-';
  const body = rows.map((r) => [
    r.model,
    r.variant,
    r.packageMiB.toFixed(1),
    delta(r.maxAbsDeltaLogits),
    pct(r.top1AgreeWithFp32),
    ms(r.node.createMs),
    fwd(r.node.forward),
    ratio(r.node.forward, fp32(r)?.node.forward),
    ms(r.wasm.createMs),
    fwd(r.wasm.forward),
    ratio(r.wasm.forward, fp32(r)?.wasm.forward),
    `${mib(r.wasm.heapMiB.afterCreate)} / ${mib(r.wasm.heapMiB.afterForwards)}`,
    delta(r.wasm.maxAbsDeltaTopkVsNode),
  ]);
  return formatTable(
    headers,
    body,
    headers.map((_, i) => i >= 2),
  );
}

/** experts × (top-k, implementation) → median (min) forward ms, plus the dense/sparse ratio of the medians per top-k. */
export function moeTable(rows: MoeRow[]): string {
  const experts = [...new Set(rows.map((r) => r.experts))].sort((a, b) => a - b);
  const ks = [...new Set(rows.map((r) => r.topk))].sort((a, b) => a - b);
  const impls = ['ort-moe', 'dense'];
  const headers = ['experts'];
  for (const k of ks)
    headers.push(...impls.map((i) => `top-${k} ${i} ms (min)`), `top-${k} dense/sparse`);
  headers.push('size MiB (ort-moe / dense)');
  const find = (e: number, k: number, impl: string) =>
    rows.find((r) => r.experts === e && r.topk === k && r.implementation === impl);
  const body = experts.map((e) => {
    const cells = [String(e)];
    for (const k of ks) {
      const [sparse, dense] = impls.map((i) => find(e, k, i));
      cells.push(sparse ? fwd(sparse.forward) : '-', dense ? fwd(dense.forward) : '-');
      cells.push(
        sparse && dense ? `${(dense.forward.medianMs / sparse.forward.medianMs).toFixed(1)}×` : '-',
      );
    }
    const [s, d] = impls.map((i) => find(e, ks[0], i));
    cells.push(`${s ? s.packageMiB.toFixed(0) : '-'} / ${d ? d.packageMiB.toFixed(0) : '-'}`);
    return cells;
  });
  return formatTable(
    headers,
    body,
    headers.map((_, i) => i >= 1),
  );
}
