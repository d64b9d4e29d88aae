/**
 * Measurement helpers for `npm run bench:model`: the fixed 32-token input, warm-up + median timing of
 * runner.forward, the WASM heap size of ORT-web, and the machine description.
 */
import { arch, cpus, loadavg, platform, totalmem } from 'node:os';
import type { BlockRunner, ForwardInput } from '../../src/decode/runner.ts';
import { blockCausalVisibility } from '../../src/model/graph-io.ts';

export const BLOCK = 32;

/** One fresh 32-token block: batch 1, positions 0..31, block-causal visibility, no past. Ids avoid the special tokens. */
export function benchInput(vocab: number, wantLogits: boolean): ForwardInput {
  const usable = vocab - 5;
  return {
    batch: 1,
    seq: BLOCK,
    ids: Int32Array.from({ length: BLOCK }, (_, i) => (i * 7919 + 13) % usable),
    positions: Int32Array.from({ length: BLOCK }, (_, i) => i),
    visibility: blockCausalVisibility(BLOCK, BLOCK),
    past: null,
    wantLogits,
    wantPresent: true,
  };
}

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Every timed run, in order (warm-up runs excluded). */
  samplesMs: number[];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `warmup` untimed forwards, then the median of `runs` timed ones (prefill, top-k + present only). */
export async function timeForwards(
  runner: BlockRunner,
  warmup: number,
  runs: number,
): Promise<Timing> {
  const input = benchInput(runner.info.vocabSize, false);
  for (let i = 0; i < warmup; i++) await runner.forward(input);
  const samplesMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await runner.forward(input);
    samplesMs.push(performance.now() - t);
  }
  return {
    medianMs: median(samplesMs),
    minMs: Math.min(...samplesMs),
    maxMs: Math.max(...samplesMs),
    samplesMs,
  };
}

/**
 * Times several runners against each other under the same machine load: `warmup` untimed forwards each, then
 * `runs` rounds of one timed forward per runner, the order rotated every round. Returns one Timing per runner.
 */
export async function timeInterleaved(
  runners: BlockRunner[],
  warmup: number,
  runs: number,
): Promise<Timing[]> {
  const inputs = runners.map((r) => benchInput(r.info.vocabSize, false));
  for (const [i, r] of runners.entries())
    for (let w = 0; w < warmup; w++) await r.forward(inputs[i]);
  const samples: number[][] = runners.map(() => []);
  for (let round = 0; round < runs; round++) {
    for (let j = 0; j < runners.length; j++) {
      const i = (round + j) % runners.length;
      const t = performance.now();
      await runners[i].forward(inputs[i]);
      samples[i].push(performance.now() - t);
    }
  }
  return samples.map((xs) => ({
    medianMs: median(xs),
    minMs: Math.min(...xs),
    maxMs: Math.max(...xs),
    samplesMs: xs,
  }));
}

/**
 * Like timeInterleaved for calls that time themselves (e.g. a forward in a child process, without the IPC):
 * `warmup` calls each, then `runs` rounds of one call per function, the order rotated every round.
 */
export async function interleaveTimed(
  calls: (() => Promise<number>)[],
  warmup: number,
  runs: number,
): Promise<Timing[]> {
  for (const call of calls) for (let w = 0; w < warmup; w++) await call();
  const samples: number[][] = calls.map(() => []);
  for (let round = 0; round < runs; round++)
    for (let j = 0; j < calls.length; j++) {
      const i = (round + j) % calls.length;
      samples[i].push(await calls[i]());
    }
  return samples.map((xs) => ({
    medianMs: median(xs),
    minMs: Math.min(...xs),
    maxMs: Math.max(...xs),
    samplesMs: xs,
  }));
}

/** Largest |a_i − b_i|. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`logits lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Fraction of rows (of width `width`) whose argmax agrees. */
export function argmaxAgreement(a: Float32Array, b: Float32Array, width: number): number {
  const rows = a.length / width;
  let same = 0;
  for (let r = 0; r < rows; r++)
    if (argmax(a, r * width, width) === argmax(b, r * width, width)) same++;
  return same / rows;
}

function argmax(x: Float32Array, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
  return best;
}

/**
 * Captures the WebAssembly.Memory that ORT-web instantiates its module with (an import for the threaded build,
 * an export otherwise) by wrapping WebAssembly.instantiate. Install before ORT-web creates its first session.
 * `bytes()` is the memory's current size (null when none was seen); the heap only grows, so that is the high-water
 * mark of everything the module ever allocated. `initialBytes` is its size when the module was instantiated.
 */
export function captureWasmMemory(): {
  bytes: () => number | null;
  initialBytes: () => number | null;
} {
  let memory: WebAssembly.Memory | undefined;
  let initial: number | null = null;
  const original = WebAssembly.instantiate.bind(WebAssembly) as (
    ...args: unknown[]
  ) => Promise<unknown>;
  const find = (o: unknown) => {
    if (!memory && o && typeof o === 'object')
      for (const v of Object.values(o))
        if (v instanceof WebAssembly.Memory) {
          memory = v;
          initial = v.buffer.byteLength;
          break;
        }
  };
  (
    WebAssembly as unknown as { instantiate: (...args: unknown[]) => Promise<unknown> }
  ).instantiate = async (...args: unknown[]) => {
    const imports = args[1] as Record<string, unknown> | undefined;
    for (const ns of Object.values(imports ?? {})) find(ns);
    const result = await original(...args);
    const instance =
      (result as { instance?: WebAssembly.Instance }).instance ?? (result as WebAssembly.Instance);
    find(instance?.exports);
    return result;
  };
  return { bytes: () => (memory ? memory.buffer.byteLength : null), initialBytes: () => initial };
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  ortNode: string;
  ortWeb: string;
  /** 1-minute load average when the benchmark started and ended (other work on the machine skews timings). */
  loadAvgStart: number;
  loadAvgEnd: number;
}

export const loadAvg1 = () => Math.round(loadavg()[0] * 100) / 100;

export function machineInfo(ortNode: string, ortWeb: string, loadAvgStart: number): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown CPU',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${arch()}`,
    node: process.version,
    ortNode,
    ortWeb,
    loadAvgStart,
    loadAvgEnd: loadAvg1(),
  };
}

export function machineLine(m: MachineInfo): string {
  return `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; onnxruntime-node ${m.ortNode}; onnxruntime-web ${m.ortWeb} (wasm, 1 thread); load average ${m.loadAvgStart} at start, ${m.loadAvgEnd} at end`;
}

export const MiB = 2 ** 20;
