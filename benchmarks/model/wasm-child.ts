/**
 * Child process of `npm run bench:model` for the ORT-web (WASM, 1 thread) side of one package, so each package
 * gets a fresh WASM heap (it never shrinks) and its size after session create can be read.
 *
 * usage: tsx benchmarks/model/wasm-child.ts --dir <package> --warmup 2 --runs 10
 * Prints one JSON line (WasmChildResult) on stdout; on failure a one-line reason on stderr and exit 1.
 * With --serve (started by fork(), see run-wasm-child.ts): after loading it sends a `ready` message, then times one
 * forward per `forward` message (replying its ms), so a parent can interleave several packages' children in rounds;
 * `finish` makes it report the heap after the forwards and exit.
 */
import { intFlag, parseFlags, runMain, UsageError } from '../../backends/node/cli.ts';
import { openModel } from '../../backends/node/open-model.ts';
import { wasmOrt } from '../../backends/node/node-ort.ts';
import { DT, GraphBuilder } from '../../src/export/onnx-builder.ts';
import { InlineSink } from '../../src/export/weight-sink.ts';
import type { BlockRunner } from '../../src/decode/runner.ts';
import { benchInput, captureWasmMemory, timeForwards, type Timing } from './measure.ts';

export interface WasmChildResult {
  ortWeb: string;
  /** Session create (reading the package files included), ORT-web already initialised. */
  createMs: number;
  forward: Timing;
  /** WebAssembly.Memory sizes in bytes (null when the memory could not be captured). */
  heap: {
    initial: number | null;
    afterInit: number | null;
    afterCreate: number | null;
    afterForwards: number | null;
  };
  /** Top-k logits [seq × k] of one 32-token forward, to compare with ORT-node. */
  topk: { k: number; logits: number[]; ids: number[] };
}

type WebOrt = {
  env: {
    versions: Record<string, string>;
    wasm: { numThreads?: number; proxy?: boolean; wasmBinary?: ArrayBufferLike | Uint8Array };
  };
  InferenceSession: {
    create(model: Uint8Array, options?: object): Promise<{ release(): Promise<void> }>;
  };
};

runMain('bench-model wasm child', async () => {
  const { values } = parseFlags(
    process.argv.slice(2),
    {
      dir: { type: 'string' },
      warmup: { type: 'string' },
      runs: { type: 'string' },
      serve: { type: 'boolean' },
    },
    false,
  );
  if (!values.dir) throw new UsageError('--dir is required');
  const warmup = intFlag(values.warmup, 'warmup', 0) ?? 2;
  const runs = intFlag(values.runs, 'runs', 1) ?? 10;
  const memory = captureWasmMemory();

  // Initialise ORT-web (set up as openModel does) on a one-node graph first, so the package's create time
  // excludes compiling the 14 MB module and the heap baseline is known.
  const ort = (await wasmOrt()).ort as unknown as WebOrt;
  const b = new GraphBuilder(new InlineSink());
  const y = b.op1('Identity', [b.input({ name: 'x', dtype: DT.FLOAT, shape: [1] })]);
  b.output({ name: y, dtype: DT.FLOAT, shape: [1] });
  await (await ort.InferenceSession.create(b.encode(), { executionProviders: ['wasm'] })).release();
  const afterInit = memory.bytes();

  const model = await openModel(values.dir, { runtime: 'wasm' });
  const afterCreate = memory.bytes();
  const check = await model.runner.forward(benchInput(model.runner.info.vocabSize, false));
  const topk = {
    k: check.topk.k,
    logits: Array.from(check.topk.logits),
    ids: Array.from(check.topk.ids),
  };
  if (values.serve) {
    const heap = { initial: memory.initialBytes(), afterInit, afterCreate };
    await serve(
      model.runner,
      { ortWeb: ort.env.versions.web ?? 'unknown', createMs: model.sessionMs, heap, topk },
      () => memory.bytes(),
    );
    return;
  }
  const forward = await timeForwards(model.runner, warmup, runs);
  const result: WasmChildResult = {
    ortWeb: ort.env.versions.web ?? 'unknown',
    createMs: model.sessionMs,
    forward,
    heap: { initial: memory.initialBytes(), afterInit, afterCreate, afterForwards: memory.bytes() },
    topk,
  };
  await model.session.release();
  process.stdout.write(`${JSON.stringify(result)}\n`);
});

/** Messages of the --serve protocol. */
export type ServeRequest = { type: 'forward' } | { type: 'finish' };
export type ServeReply =
  | ({ type: 'ready' } & Omit<WasmChildResult, 'forward' | 'heap'> & {
        heap: Omit<WasmChildResult['heap'], 'afterForwards'>;
      })
  | { type: 'ms'; ms: number }
  | { type: 'done'; afterForwards: number | null };

async function serve(
  runner: BlockRunner,
  ready: Omit<Extract<ServeReply, { type: 'ready' }>, 'type'>,
  heapNow: () => number | null,
): Promise<void> {
  const send = (m: ServeReply) => process.send!(m);
  const input = benchInput(runner.info.vocabSize, false);
  await new Promise<void>((resolve, reject) => {
    process.on('message', (m: ServeRequest) => {
      if (m.type === 'finish') {
        send({ type: 'done', afterForwards: heapNow() });
        resolve();
        return;
      }
      const t = performance.now();
      runner.forward(input).then(() => send({ type: 'ms', ms: performance.now() - t }), reject);
    });
    send({ type: 'ready', ...ready });
  });
}
