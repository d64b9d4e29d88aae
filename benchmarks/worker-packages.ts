/**
 * Several model packages side by side in workerd, for `npm run bench:worker -- --package DIR ...`: one fresh
 * workerd per package (its own isolate and wasm heap, ORT-web 1 thread), all alive at once and timed in
 * interleaved rounds (the order rotated every round) so machine load hits every package alike.
 *
 * Per round and package, two requests through POST /internal/generate:
 * - **forward**: 16 prompt ids, one 32-token block decoded one token per forward (threshold 1: every forward is a
 *   32-token block over the prompt's KV cache), timed by the client: wall ÷ forwards, plus the Worker's own
 *   runner time ÷ forwards (workerd's clock);
 * - **answer**: held-out prompts of the demo tasks through the chat template (max_tokens 16, threshold 0.9,
 *   what `bench:quality` measures), wall ms per answer, forwards per answer and exact-match accuracy.
 */
import type { DecodeStats } from '../src/decode/index.ts';
import type { Manifest } from '../src/model/manifest.ts';
import {
  seedPackage,
  startWorker,
  type BuiltWorker,
  type RunningWorker,
} from '../backends/node/worker-harness.ts';
import { readLocalManifest } from '../backends/node/stores/disk-package.ts';
import { heldOutExamples, TASKS, type TaskExample } from '../training/tasks.ts';
import { median, type Timing } from './model/measure.ts';

/** Settings of the answer requests (bench:quality's). */
const ANSWER = { max_tokens: 16, threshold: 0.9 } as const;

export interface PackageTimings {
  dir: string;
  /** dtype, int4 layout and kernel from the manifest, e.g. `int4 dq (float kernel)`. */
  encoding: string;
  packageBytes: number;
  loadMs: { fetch: number; session: number };
  heapMiB: number | null;
  /** Client wall time of the one-block request ÷ its forwards. */
  forwardWall: Timing;
  /** The Worker's runner time ÷ forwards (workerd's clock, which may be coarse). */
  forwardRunner: Timing;
  forwardsPerBlock: number;
  /** Client wall time per answer (one sample = the mean over the round's prompts). */
  answerWall: Timing;
  forwardsPerAnswer: number;
  accuracy: number;
}

function timing(xs: number[]): Timing {
  return { medianMs: median(xs), minMs: Math.min(...xs), maxMs: Math.max(...xs), samplesMs: xs };
}

/** The demo tasks' single-turn held-out prompts (sort, add), `perTask` of each. */
function answerPrompts(perTask: number) {
  return ['sort', 'add'].flatMap((t) => heldOutExamples(TASKS[t], perTask));
}

export function encodingOf(q: Record<string, unknown>): string {
  const layout = q.dtype === 'int4' ? ` ${String(q.int4_layout)}` : '';
  const kernel = q.kernel ? ` (${String(q.kernel)} kernel)` : '';
  return `${String(q.dtype)}${layout}${q.int4_layout === 'matmulnbits' ? '' : kernel}`;
}

interface Opened {
  worker: RunningWorker;
  dir: string;
  manifest: Manifest;
  blockBody: object;
  health: Record<string, unknown>;
}

/** A fresh workerd serving the package at `dir`, past its first (cold) request. */
async function openInWorkerd(built: BuiltWorker, dir: string): Promise<Opened> {
  const manifest = await readLocalManifest(dir);
  const worker = await startWorker(built, { edgeModel: 'demo' });
  try {
    await seedPackage(worker, dir);
    const vocab = manifest.tokens.vocab_size;
    const blockBody = {
      prompt_ids: Array.from({ length: 16 }, (_, i) => (i * 7919 + 13) % (vocab - 8)),
      max_tokens: 32,
      block_length: 32,
      threshold: 1,
    };
    const first = await worker.post('/internal/generate', blockBody);
    if (first.status !== 200)
      throw new Error(`${dir}: workerd ${first.status} ${JSON.stringify(first.body)}`);
    const health = (await worker.get('/health')).body;
    return { worker, dir, manifest, blockBody, health };
  } catch (e) {
    await worker.dispose();
    throw e;
  }
}

interface Samples {
  fwdWall: number[];
  fwdRunner: number[];
  forwards: number;
  answer: number[];
  answerForwards: number;
  correct: number;
  answered: number;
}

/** One round on one package: the block request, then every answer prompt. */
async function measureRound(
  o: Opened,
  prompts: readonly TaskExample[],
  into: Samples | null,
): Promise<void> {
  const t0 = performance.now();
  const block = await o.worker.post('/internal/generate', o.blockBody);
  const wall = performance.now() - t0;
  if (block.status !== 200) throw new Error(`${o.dir}: ${JSON.stringify(block.body)}`);
  const s = block.body.stats as DecodeStats;
  let answerMs = 0;
  let answerForwards = 0;
  let correct = 0;
  for (const ex of prompts) {
    const t1 = performance.now();
    const r = await o.worker.post('/internal/generate', {
      prompt: ex.prompt,
      chat: true,
      ...ANSWER,
    });
    answerMs += performance.now() - t1;
    if (r.status !== 200) throw new Error(`${o.dir}: ${JSON.stringify(r.body)}`);
    answerForwards += (r.body.stats as DecodeStats).forwards;
    if (String(r.body.text).trim() === ex.answer) correct++;
  }
  if (!into) return;
  into.fwdWall.push(wall / s.forwards);
  into.fwdRunner.push(s.runnerMs / s.forwards);
  into.forwards = s.forwards;
  into.answer.push(answerMs / prompts.length);
  into.answerForwards += answerForwards;
  into.correct += correct;
  into.answered += prompts.length;
}

export async function measurePackagesInWorkerd(
  built: BuiltWorker,
  dirs: string[],
  opts: { rounds: number; warmup: number; promptsPerTask: number; log: (l: string) => void },
): Promise<PackageTimings[]> {
  const prompts = answerPrompts(opts.promptsPerTask);
  const opened: Opened[] = [];
  try {
    for (const dir of dirs) {
      opened.push(await openInWorkerd(built, dir));
      opts.log(`${dir}: loaded in workerd (${JSON.stringify(opened.at(-1)!.health.load)})`);
    }
    const samples: Samples[] = opened.map(() => ({
      fwdWall: [],
      fwdRunner: [],
      forwards: 0,
      answer: [],
      answerForwards: 0,
      correct: 0,
      answered: 0,
    }));
    for (const o of opened)
      for (let w = 0; w < opts.warmup; w++) await measureRound(o, prompts, null);
    for (let r = 0; r < opts.rounds; r++) {
      for (let j = 0; j < opened.length; j++) {
        const i = (r + j) % opened.length;
        await measureRound(opened[i], prompts, samples[i]);
      }
      opts.log(`round ${r + 1}/${opts.rounds} done`);
    }
    return opened.map((o, i) => {
      const load = o.health.load as { fetchMs: number; sessionMs: number };
      const heap = o.health.heapBytes as number | null;
      const s = samples[i];
      return {
        dir: o.dir,
        encoding: encodingOf(o.manifest.quantization as Record<string, unknown>),
        packageBytes: o.manifest.files.reduce((n, f) => n + f.bytes, 0),
        loadMs: { fetch: load.fetchMs, session: load.sessionMs },
        heapMiB: heap === null ? null : heap / 2 ** 20,
        forwardWall: timing(s.fwdWall),
        forwardRunner: timing(s.fwdRunner),
        forwardsPerBlock: s.forwards,
        answerWall: timing(s.answer),
        forwardsPerAnswer: s.answerForwards / s.answered,
        accuracy: s.correct / s.answered,
      };
    });
  } finally {
    for (const o of opened) await o.worker.dispose();
  }
}

/** Markdown table with ratios to the first fp32 package (else the first package): medians / minima. */
export function packagesTable(rows: PackageTimings[]): string {
  const ref = rows.find((r) => r.encoding.startsWith('fp32')) ?? rows[0];
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
  const t = (x: Timing) => `${f(x.medianMs)} (${f(x.minMs)})`;
  const ratio = (a: Timing, b: Timing) =>
    `${(a.medianMs / b.medianMs).toFixed(2)} / ${(a.minMs / b.minMs).toFixed(2)}`;
  const lines = [
    '| package | encoding | KiB | session ms | heap MiB | ms/forward wall med (min) | ×fp32 med/min | runner ms/forward med (min) | ms/answer med (min) | ×fp32 med/min | forwards/answer | exact match |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.dir} | ${r.encoding} | ${(r.packageBytes / 1024).toFixed(0)} | ${r.loadMs.session.toFixed(0)} | ${r.heapMiB?.toFixed(1) ?? 'n/a'} | ${t(r.forwardWall)} | ${ratio(r.forwardWall, ref.forwardWall)} | ${t(r.forwardRunner)} | ${t(r.answerWall)} | ${ratio(r.answerWall, ref.answerWall)} | ${r.forwardsPerAnswer.toFixed(2)} | ${(r.accuracy * 100).toFixed(1)} % |`,
    );
  return lines.join('\n');
}
