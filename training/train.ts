/**
 * @module
 * The training run behind `npm run train-tiny`: a seeded mix of tasks, the block-diffusion objective, Adam,
 * the aux-loss-free expert balance, progress lines (with each MoE layer's expert load), held-out evaluation
 * with the real decode loop at threshold 0.9, resumable checkpoints, and an optional export to a model package
 * at the end.
 *
 * Reproducible: batch k is drawn from its own stream seeded by (seed, k) and the schedule depends on the step
 * only, so the same settings give the same weights at every step, however the run is split by --resume.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { exportPackage } from '../backends/node/export/export-package.ts';
import { Rng, streamSeed } from '../src/export/tiny/rng.ts';
import type { TextCodec } from '../src/model/text-codec.ts';
import { evaluateExamples, type EvalResult } from './evaluate.ts';
import { demoCodec, encodeStage, type EncodedExample } from './examples.ts';
import { zeroExpertBias } from './hf-checkpoint.ts';
import { initParamArrays, paramsFromArrays, paramsToArrays, type Params } from './model.ts';
import { buildStepBatches } from './objective.ts';
import { DEFAULT_ADAM, learningRate, type AdamState } from './optimizer.ts';
import type { RunSettings, TrainCliOptions } from './options.ts';
import { paramCounts } from './shapes.ts';
import { loadState, saveState, type HistoryEntry, type TrainState } from './state.ts';
import { TASKS, heldOutExamples, sampleTraining, stagesOf, type TaskExample } from './tasks.ts';
import { initTf, tf } from './tf.ts';
import { TfjsRunner } from './tfjs-runner.ts';
import { trainStep, type StepOptions } from './train-step.ts';
import { TOKEN_IDS } from './vocab.ts';

/** Threshold of the progress evaluation (accuracy is reported at 0.9). */
export const EVAL_THRESHOLD = 0.9;
/** New tokens the evaluation allows: every task's reply + `<|role_end|>` + EOS fit well inside. */
export const EVAL_MAX_TOKENS = 16;

export interface TrainRunResult {
  dir: string;
  step: number;
  elapsedMs: number;
  /** Mean loss of the first and the last logged window of this invocation. */
  firstLoss: number;
  lastLoss: number;
  finalEval: Record<string, EvalResult>;
  stoppedBy: 'steps' | 'minutes' | 'signal';
}

export interface TrainRunOptions extends Pick<TrainCliOptions, 'settings' | 'session' | 'given'> {
  log?: (line: string) => void;
  /** Checked between steps; true stops the run after checkpointing (the CLI wires SIGINT/SIGTERM to it). */
  shouldStop?: () => boolean;
}

export function drawBatchExamples(
  settings: RunSettings,
  step: number,
): { examples: TaskExample[]; rng: Rng } {
  const rng = new Rng(streamSeed(settings.seed, `batch/${step}`));
  const c = settings.curriculum;
  const names = c && step < c.steps ? [c.task] : settings.tasks;
  const w = names.map((n) => settings.weights?.[n] ?? 1);
  const total = w.reduce((a, b) => a + b, 0);
  const pick = (u: number) => {
    let acc = 0;
    for (const [i, n] of names.entries()) if (u * total < (acc += w[i])) return TASKS[n];
    return TASKS[names[names.length - 1]];
  };
  const examples = Array.from({ length: settings.batch }, () =>
    sampleTraining(pick(rng.uniform()), rng),
  );
  return { examples, rng };
}

/**
 * The sequences of step k: its examples (drawBatchExamples), one stage of each (a multi-stage example
 * contributes one of its stages, drawn uniformly), tokenized; the same rng then draws the noise.
 */
export function drawStepSequences(
  settings: RunSettings,
  step: number,
  codec: TextCodec,
): { sequences: EncodedExample[]; rng: Rng } {
  const { examples, rng } = drawBatchExamples(settings, step);
  const sequences = examples.map((ex) => {
    const n = stagesOf(ex).length;
    return encodeStage(codec, ex, n > 1 ? Math.floor(rng.uniform() * n) : 0);
  });
  return { sequences, rng };
}

async function restore(opts: TrainRunOptions): Promise<TrainState> {
  const { settings, session, given } = opts;
  if (!session.resume) {
    const params = initParamArrays(settings.model, settings.seed);
    const zeros = () => new Map([...params].map(([k, a]) => [k, new Float32Array(a.length)]));
    return {
      settings,
      step: 0,
      elapsedMs: 0,
      history: [],
      params,
      m: zeros(),
      v: zeros(),
      bias: zeroExpertBias(settings.model),
    };
  }
  const state = await loadState(session.resume);
  for (const key of given) {
    // A new horizon or task mix is allowed: it starts a new phase of the same run (recorded in the history).
    if (key === 'steps' || key === 'weights') continue;
    const path = key.split('.') as [keyof RunSettings] | ['model', keyof RunSettings['model']];
    const saved = path.length === 1 ? state.settings[path[0]] : state.settings.model[path[1]];
    const asked = path.length === 1 ? settings[path[0]] : settings.model[path[1]];
    if (JSON.stringify(saved) !== JSON.stringify(asked)) {
      throw new Error(
        `--resume: ${key} is ${JSON.stringify(saved)} in the checkpoint, not ${JSON.stringify(asked)}`,
      );
    }
  }
  const changes: string[] = [];
  if (given.includes('steps') && settings.steps !== state.settings.steps)
    changes.push(`horizon ${state.settings.steps} → ${settings.steps}`);
  if (given.includes('weights'))
    changes.push(
      `weights ${JSON.stringify(state.settings.weights ?? null)} → ${JSON.stringify(settings.weights)}`,
    );
  if (given.includes('steps')) state.settings = { ...state.settings, steps: settings.steps };
  if (given.includes('weights')) state.settings = { ...state.settings, weights: settings.weights };
  if (changes.length > 0)
    state.history.push({
      step: state.step,
      elapsedMs: Math.round(state.elapsedMs),
      note: `resumed: ${changes.join(', ')}`,
    });
  return state;
}

export async function evaluateHeldOut(
  runner: TfjsRunner,
  settings: RunSettings,
  count: number,
): Promise<Record<string, EvalResult>> {
  const codec = demoCodec(settings.maxPositions);
  const out: Record<string, EvalResult> = {};
  for (const name of settings.tasks) {
    out[name] = await evaluateExamples(runner, codec, heldOutExamples(TASKS[name], count), {
      threshold: EVAL_THRESHOLD,
      maxTokens: EVAL_MAX_TOKENS,
      blockLength: settings.blockLength,
      mode: 'reference',
    });
  }
  return out;
}

export async function trainRun(opts: TrainRunOptions): Promise<TrainRunResult> {
  const { session, log = () => {}, shouldStop = () => false } = opts;
  await initTf(session.backend);
  const state = await restore(opts);
  const s = state.settings;
  const dir = session.out;
  await mkdir(dir, { recursive: true });
  const adam: StepOptions = {
    ...DEFAULT_ADAM,
    lr: s.lr,
    warmup: s.warmup,
    horizon: s.steps,
    biasRate: s.biasRate,
  };
  const bias = state.bias;
  const lastStep = Math.min(s.steps, session.stopAt ?? Infinity);
  const codec = demoCodec(s.maxPositions);
  let params: Params = paramsFromArrays(s.model, state.params);
  let moments: AdamState = {
    m: paramsFromArrays(s.model, state.m),
    v: paramsFromArrays(s.model, state.v),
  };
  const runner = () =>
    new TfjsRunner({
      config: s.model,
      params,
      maskId: TOKEN_IDS['<|mask|>'],
      eosId: TOKEN_IDS['<|endoftext|>'],
      blockLength: s.blockLength,
      maxPositions: s.maxPositions,
      bias,
    });
  const logFile = join(dir, 'log.jsonl');
  const record = async (e: HistoryEntry) => {
    state.history.push(e);
    await appendFile(logFile, `${JSON.stringify(e)}\n`);
  };
  const checkpoint = async () => {
    state.params = await paramsToArrays(s.model, params);
    state.m = await paramsToArrays(s.model, moments.m);
    state.v = await paramsToArrays(s.model, moments.v);
    state.bias = bias;
    await saveState(dir, state);
  };
  const evaluate = async () => {
    const started = performance.now();
    const res = await evaluateHeldOut(runner(), s, session.evalCount);
    const parts = Object.entries(res).map(
      ([t, r]) =>
        `${t} ${(100 * r.accuracy).toFixed(1)}% (TPF ${r.tokensPerForward.toFixed(2)}, NFE ${r.forwardsPerAnswer.toFixed(2)})`,
    );
    log(
      `eval step ${state.step}: ${parts.join(' · ')} [${((performance.now() - started) / 1000).toFixed(1)} s, threshold ${EVAL_THRESHOLD}]`,
    );
    for (const [t, r] of Object.entries(res))
      for (const f of r.failures.slice(0, 2))
        log(
          `  ${t} miss: ${JSON.stringify(f.prompt)} → ${JSON.stringify(f.got)} (want ${JSON.stringify(f.expected)})`,
        );
    return res;
  };

  const counts = paramCounts(s.model);
  const moeText =
    s.model.denseLayers < s.model.layers
      ? ` (${counts.active.toLocaleString('en-US')} active; layers ${s.model.denseLayers}–${s.model.layers - 1} MoE, ${s.model.experts} experts top-${s.model.expertsPerTok}, bias rate ${s.biasRate})`
      : '';
  log(
    `train-tiny: tasks ${s.tasks.join('+')}${s.weights ? ` weighted ${JSON.stringify(s.weights)}` : ''}${s.curriculum ? ` (${s.curriculum.task} only for ${s.curriculum.steps} steps)` : ''}, seed ${s.seed}, batch ${s.batch}, block ${s.blockLength}, ${counts.total.toLocaleString('en-US')} params${moeText}, ` +
      `steps ${state.step}→${lastStep}${lastStep < s.steps ? ` (horizon ${s.steps})` : ''}, budget ${session.minutes} min, backend ${tf.getBackend()}, out ${dir}`,
  );

  const started = performance.now();
  const elapsedBefore = state.elapsedMs;
  const budgetMs = session.minutes * 60_000;
  let windowLoss = 0;
  let windowSteps = 0;
  let windowTokens = 0;
  const windowLoads = new Map([...bias.keys()].map((l) => [l, new Float64Array(s.model.experts)]));
  let windowStart = performance.now();
  let firstLoss = NaN;
  let lastLoss = NaN;
  let stoppedBy: TrainRunResult['stoppedBy'] = 'steps';
  while (state.step < lastStep) {
    // A step awaits only settled promises; yield to the event loop so signal handlers run between steps.
    await new Promise((r) => setImmediate(r));
    if (shouldStop()) {
      stoppedBy = 'signal';
      break;
    }
    if (performance.now() - started >= budgetMs) {
      stoppedBy = 'minutes';
      break;
    }
    const { sequences, rng } = drawStepSequences(s, state.step, codec);
    const batches = buildStepBatches(
      sequences,
      {
        blockLength: s.blockLength,
        maskId: TOKEN_IDS['<|mask|>'],
        eosId: TOKEN_IDS['<|endoftext|>'],
      },
      rng,
    );
    const r = await trainStep(s.model, params, moments, batches, bias, state.step, adam);
    params = r.params;
    moments = r.state;
    if (!Number.isFinite(r.loss)) throw new Error(`loss is ${r.loss} at step ${state.step}`);
    state.step++;
    state.elapsedMs = elapsedBefore + (performance.now() - started);
    windowLoss += r.loss;
    windowSteps++;
    windowTokens += batches.reduce((n, b) => n + b.batch * b.seq, 0);
    for (const [l, loads] of r.loads) {
      const acc = windowLoads.get(l)!;
      for (let e = 0; e < acc.length; e++) acc[e] += loads[e];
    }
    if (state.step % session.logEvery === 0 || state.step === lastStep) {
      const secs = (performance.now() - windowStart) / 1000;
      const mean = windowLoss / windowSteps;
      if (Number.isNaN(firstLoss)) firstLoss = mean;
      lastLoss = mean;
      const expertLoad = loadShares(windowLoads);
      const balance = Object.values(expertLoad)
        .map((row) => (Math.max(...row) * row.length).toFixed(2))
        .join('/');
      log(
        `step ${state.step}/${s.steps} loss ${mean.toFixed(4)} lr ${learningRate(state.step - 1, adam).toExponential(2)} |g| ${r.gradNorm.toFixed(2)} ` +
          `${(windowSteps / secs).toFixed(2)} steps/s ${Math.round(windowTokens / secs)} tok/s${balance ? ` load max/mean ${balance}` : ''} elapsed ${fmtTime(state.elapsedMs)}`,
      );
      const entry: HistoryEntry = {
        step: state.step,
        loss: mean,
        elapsedMs: Math.round(state.elapsedMs),
        ...(balance ? { expertLoad } : {}),
      };
      if (state.step % session.evalEvery === 0 && session.evalCount > 0 && state.step < lastStep) {
        const res = await evaluate();
        entry.accuracy = Object.fromEntries(Object.entries(res).map(([t, x]) => [t, x.accuracy]));
        entry.tokensPerForward = Object.fromEntries(
          Object.entries(res).map(([t, x]) => [t, x.tokensPerForward]),
        );
      }
      await record(entry);
      windowLoss = 0;
      windowSteps = 0;
      windowTokens = 0;
      for (const acc of windowLoads.values()) acc.fill(0);
      windowStart = performance.now();
    }
    if (state.step % session.evalEvery === 0) await checkpoint();
  }
  if (windowSteps > 0) {
    lastLoss = windowLoss / windowSteps;
    if (Number.isNaN(firstLoss)) firstLoss = lastLoss;
  }
  log(
    `train-tiny: stopped by ${stoppedBy} at step ${state.step} after ${fmtTime(state.elapsedMs)} of training`,
  );
  const finalEval = session.evalCount > 0 ? await evaluate() : {};
  if (session.evalCount > 0) {
    await record({
      step: state.step,
      loss: lastLoss,
      elapsedMs: Math.round(state.elapsedMs),
      accuracy: Object.fromEntries(Object.entries(finalEval).map(([t, x]) => [t, x.accuracy])),
      tokensPerForward: Object.fromEntries(
        Object.entries(finalEval).map(([t, x]) => [t, x.tokensPerForward]),
      ),
    });
  }
  await checkpoint();
  log(`train-tiny: checkpoint ${dir} (step ${state.step})`);
  if (session.packageDir) {
    await exportPackage({
      checkpointDir: dir,
      outDir: session.packageDir,
      force: true,
      dtype: 'fp32',
      blockLength: s.blockLength,
      name: 'unmask-demo',
    });
    log(`train-tiny: package ${session.packageDir}`);
  }
  for (const t of [
    ...Object.values(params),
    ...Object.values(moments.m),
    ...Object.values(moments.v),
  ])
    t.dispose();
  return {
    dir,
    step: state.step,
    elapsedMs: state.elapsedMs,
    firstLoss,
    lastLoss,
    finalEval,
    stoppedBy,
  };
}

/** Per layer, each expert's share of the routed tokens (rounded to 1e-4). */
function loadShares(loads: Map<number, Float64Array>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [l, row] of loads) {
    const total = row.reduce((a, b) => a + b, 0);
    if (total > 0) out[String(l)] = Array.from(row, (x) => Math.round((x / total) * 1e4) / 1e4);
  }
  return out;
}

function fmtTime(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
