/**
 * @module
 * Options of `npm run train-tiny`: what defines a run (saved with every checkpoint, restored by --resume) and
 * what only steers this invocation. Every bad value is a UsageError with one line.
 */
import { UsageError, floatFlag, intFlag, parseFlags } from '../backends/node/cli.ts';
import type { DemoModelConfig } from './shapes.ts';
import { TASK_NAMES, resolveTasks } from './tasks.ts';
import { VOCAB_SIZE } from './vocab.ts';

/** Everything that determines the weights at a given step. */
export interface RunSettings {
  tasks: string[];
  /** Train only this task for the first `steps` steps, then mix all tasks evenly (null: mix from the start). */
  curriculum: { task: string; steps: number } | null;
  /** Relative sampling weight per task in the mix (null: even). A resumed run may change it (a new phase). */
  weights?: Record<string, number> | null;
  seed: number;
  batch: number;
  blockLength: number;
  /** The schedule's horizon and the last step. */
  steps: number;
  lr: number;
  warmup: number;
  model: DemoModelConfig;
  /** max_position_embeddings written to config.json. */
  maxPositions: number;
  /** Expert-bias step γ of the aux-loss-free balance (bias_e += γ · sign(mean load − load_e) per step). */
  biasRate: number;
}

/** Steers this invocation only. */
export interface SessionOptions {
  out: string;
  resume?: string;
  /** Wall-clock budget of this invocation. */
  minutes: number;
  evalEvery: number;
  logEvery: number;
  /** Held-out prompts per task in each evaluation. */
  evalCount: number;
  /** Stop after this step (checkpointed) although the schedule's horizon is later; undefined: at the horizon. */
  stopAt?: number;
  /** Export a model package here at the end. */
  packageDir?: string;
  backend: 'wasm' | 'cpu';
}

export interface TrainCliOptions {
  settings: RunSettings;
  session: SessionOptions;
  /** Run settings named on the command line (checked against the checkpoint on --resume). */
  given: (keyof RunSettings | `model.${keyof DemoModelConfig}`)[];
  help: boolean;
}

/**
 * The shipped demo model (assets/demo-model/TRAINING.md): 3 layers, hidden 128, 8/4 heads of 32 with 16 rotary
 * dims; layer 0 dense (SwiGLU 384), layers 1–2 MoE in LLaDA2.0-mini's proportions scaled down: 16 routed experts
 * of width 32 (a quarter of hidden, as 512 of 2048), top-4 within the best 2 of 4 groups, one shared expert,
 * routed_scaling_factor 2.5.
 */
export const DEFAULT_MODEL: DemoModelConfig = {
  layers: 3,
  hidden: 128,
  heads: 8,
  kvHeads: 4,
  headDim: 32,
  rotaryDim: 16,
  ropeTheta: 10000,
  intermediate: 384,
  vocab: VOCAB_SIZE,
  eps: 1e-6,
  denseLayers: 1,
  experts: 16,
  expertsPerTok: 4,
  groups: 4,
  topkGroup: 2,
  moeIntermediate: 32,
  sharedExperts: 1,
  routedScaling: 2.5,
};

export const DEFAULT_SETTINGS: Omit<RunSettings, 'tasks'> = {
  curriculum: null,
  seed: 0,
  batch: 64,
  blockLength: 8,
  steps: 3000,
  lr: 1e-3,
  warmup: 200,
  model: DEFAULT_MODEL,
  maxPositions: 4096,
  biasRate: 1e-3,
};

export const USAGE = `usage: npm run train-tiny -- [options]
  --task NAME|all     tasks to mix: ${TASK_NAMES.join(', ')}, or all (default all)
  --first TASK:N      curriculum: only TASK for the first N steps, then the mix (default none)
  --weights T:W,...   relative sampling weights of the mix (default even; may change on --resume)
  --minutes N         wall-clock budget of this run (default 35)
  --steps N           schedule horizon and last step (default ${DEFAULT_SETTINGS.steps})
  --stop-at N         stop after step N, before the horizon (reproduces a run that --minutes cut short)
  --seed S            (default 0)
  --out DIR           checkpoint directory (default .cache/train-tiny/<task>; --resume: the resumed dir)
  --resume DIR        continue the run checkpointed in DIR
  --eval-every N      held-out evaluation (real decode, threshold 0.9) and checkpoint every N steps (default 250)
  --log-every N       progress line every N steps (default 50)
  --eval-count N      held-out prompts per task per evaluation (default 100)
  --batch N           sequences per step (default ${DEFAULT_SETTINGS.batch})
  --block N           block length B, trained and written to the package manifest (default ${DEFAULT_SETTINGS.blockLength})
  --lr X, --warmup N  peak learning rate (default 1e-3), warmup steps (default 200)
  --layers N --hidden N --heads N --kv-heads N --head-dim N --intermediate N --rope-theta X   model shape
  --dense-layers N    layers before the first MoE layer (default ${DEFAULT_MODEL.denseLayers}; = --layers: a dense model)
  --experts N --experts-per-tok N --groups N --topk-group N --moe-intermediate N --shared-experts N
                      MoE shape (default ${DEFAULT_MODEL.experts}, ${DEFAULT_MODEL.expertsPerTok}, ${DEFAULT_MODEL.groups}, ${DEFAULT_MODEL.topkGroup}, ${DEFAULT_MODEL.moeIntermediate}, ${DEFAULT_MODEL.sharedExperts})
  --bias-rate X       expert-bias step γ of the aux-loss-free balance (default ${DEFAULT_SETTINGS.biasRate}; 0 freezes it)
  --max-positions N   max_position_embeddings of the checkpoint (default ${DEFAULT_SETTINGS.maxPositions})
  --package DIR       also export a model package (ONNX, fp32) there at the end
  --backend wasm|cpu  tfjs backend (default wasm)`;

const FLAGS = {
  task: { type: 'string' },
  first: { type: 'string' },
  weights: { type: 'string' },
  minutes: { type: 'string' },
  steps: { type: 'string' },
  'stop-at': { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  'eval-every': { type: 'string' },
  'log-every': { type: 'string' },
  'eval-count': { type: 'string' },
  batch: { type: 'string' },
  block: { type: 'string' },
  lr: { type: 'string' },
  warmup: { type: 'string' },
  layers: { type: 'string' },
  hidden: { type: 'string' },
  heads: { type: 'string' },
  'kv-heads': { type: 'string' },
  'head-dim': { type: 'string' },
  intermediate: { type: 'string' },
  'rope-theta': { type: 'string' },
  'dense-layers': { type: 'string' },
  experts: { type: 'string' },
  'experts-per-tok': { type: 'string' },
  groups: { type: 'string' },
  'topk-group': { type: 'string' },
  'moe-intermediate': { type: 'string' },
  'shared-experts': { type: 'string' },
  'bias-rate': { type: 'string' },
  'max-positions': { type: 'string' },
  package: { type: 'string' },
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseTrainArgs(argv: string[]): TrainCliOptions {
  const { values: v, positionals } = parseFlags(argv, FLAGS, true);
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const given: TrainCliOptions['given'] = [];
  const int = (name: keyof typeof FLAGS, min: number) =>
    intFlag(v[name] as string | undefined, name, min);
  const pick = <T>(value: T | undefined, fallback: T, key: TrainCliOptions['given'][number]): T => {
    if (value === undefined) return fallback;
    given.push(key);
    return value;
  };
  const taskSpec = v.task ?? 'all';
  let tasks: string[];
  try {
    tasks = resolveTasks(taskSpec).map((t) => t.name);
  } catch (e: unknown) {
    throw new UsageError((e as Error).message);
  }
  if (v.task !== undefined) given.push('tasks');
  const m = DEFAULT_MODEL;
  const headDim = pick(int('head-dim', 4), m.headDim, 'model.headDim');
  if (headDim % 4 !== 0)
    throw new UsageError(
      `--head-dim must be a multiple of 4 (half of it is rotated by RoPE in pairs), got ${headDim}`,
    );
  const model: DemoModelConfig = {
    ...m,
    layers: pick(int('layers', 1), m.layers, 'model.layers'),
    hidden: pick(int('hidden', 1), m.hidden, 'model.hidden'),
    heads: pick(int('heads', 1), m.heads, 'model.heads'),
    kvHeads: pick(int('kv-heads', 1), m.kvHeads, 'model.kvHeads'),
    headDim,
    rotaryDim: headDim / 2,
    intermediate: pick(int('intermediate', 1), m.intermediate, 'model.intermediate'),
    denseLayers: pick(int('dense-layers', 0), m.denseLayers, 'model.denseLayers'),
    experts: pick(int('experts', 1), m.experts, 'model.experts'),
    expertsPerTok: pick(int('experts-per-tok', 1), m.expertsPerTok, 'model.expertsPerTok'),
    groups: pick(int('groups', 1), m.groups, 'model.groups'),
    topkGroup: pick(int('topk-group', 1), m.topkGroup, 'model.topkGroup'),
    moeIntermediate: pick(int('moe-intermediate', 1), m.moeIntermediate, 'model.moeIntermediate'),
    sharedExperts: pick(int('shared-experts', 0), m.sharedExperts, 'model.sharedExperts'),
  };
  if (model.heads % model.kvHeads !== 0)
    throw new UsageError(
      `--heads (${model.heads}) must be a multiple of --kv-heads (${model.kvHeads})`,
    );
  checkMoeShape(model);
  const theta = floatFlag(v['rope-theta'], 'rope-theta');
  if (theta !== undefined && !(theta > 1))
    throw new UsageError(`--rope-theta must be > 1, got ${v['rope-theta']}`);
  model.ropeTheta = pick(theta, m.ropeTheta, 'model.ropeTheta');
  const biasRate = floatFlag(v['bias-rate'], 'bias-rate');
  if (biasRate !== undefined && !(biasRate >= 0 && biasRate < 1))
    throw new UsageError(`--bias-rate must be in [0, 1), got ${v['bias-rate']}`);
  const lr = floatFlag(v.lr, 'lr');
  if (lr !== undefined && !(lr > 0 && lr < 1))
    throw new UsageError(`--lr must be in (0, 1), got ${v.lr}`);
  const d = DEFAULT_SETTINGS;
  let curriculum: RunSettings['curriculum'] = null;
  if (v.first !== undefined) {
    const m = /^([a-z]+):(\d+)$/.exec(v.first);
    if (!m || !tasks.includes(m[1]) || Number(m[2]) < 1)
      throw new UsageError(
        `--first must be TASK:STEPS with one of the trained tasks (${tasks.join(', ')}) and STEPS ≥ 1, got ${JSON.stringify(v.first)}`,
      );
    curriculum = { task: m[1], steps: Number(m[2]) };
    given.push('curriculum');
  }
  let weights: RunSettings['weights'] = null;
  if (v.weights !== undefined) {
    weights = {};
    for (const part of v.weights.split(',')) {
      const m = /^([a-z]+):(\d+(?:\.\d+)?)$/.exec(part.trim());
      if (!m || !tasks.includes(m[1]) || !(Number(m[2]) > 0))
        throw new UsageError(
          `--weights must be TASK:W,... over the trained tasks (${tasks.join(', ')}) with W > 0, got ${JSON.stringify(v.weights)}`,
        );
      weights[m[1]] = Number(m[2]);
    }
    given.push('weights');
  }
  const settings: RunSettings = {
    tasks,
    curriculum,
    weights,
    seed: pick(int('seed', 0), d.seed, 'seed'),
    batch: pick(int('batch', 1), d.batch, 'batch'),
    blockLength: pick(int('block', 1), d.blockLength, 'blockLength'),
    steps: pick(int('steps', 1), d.steps, 'steps'),
    lr: pick(lr, d.lr, 'lr'),
    warmup: pick(int('warmup', 0), d.warmup, 'warmup'),
    model,
    maxPositions: pick(int('max-positions', 64), d.maxPositions, 'maxPositions'),
    biasRate: pick(biasRate, d.biasRate, 'biasRate'),
  };
  if (settings.blockLength > 64)
    throw new UsageError(`--block must be at most 64, got ${settings.blockLength}`);
  const minutes = floatFlag(v.minutes, 'minutes') ?? 35;
  if (!(minutes > 0)) throw new UsageError(`--minutes must be > 0, got ${v.minutes}`);
  const backend = v.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'cpu')
    throw new UsageError(`--backend must be wasm or cpu, got ${JSON.stringify(backend)}`);
  for (const [flag, value] of [
    ['out', v.out],
    ['resume', v.resume],
    ['package', v.package],
  ] as const) {
    if (value !== undefined && value.trim() === '')
      throw new UsageError(`--${flag} must not be empty`);
  }
  const session: SessionOptions = {
    out: v.out ?? v.resume ?? `.cache/train-tiny/${taskSpec.replace(/,/g, '+')}`,
    resume: v.resume,
    minutes,
    evalEvery: int('eval-every', 1) ?? 250,
    logEvery: int('log-every', 1) ?? 50,
    evalCount: int('eval-count', 0) ?? 100,
    stopAt: int('stop-at', 1),
    packageDir: v.package,
    backend,
  };
  return { settings, session, given, help: v.help === true };
}

/** The MoE routing shape must be one the official router (and the exporter) can run. */
function checkMoeShape(m: DemoModelConfig): void {
  if (m.denseLayers > m.layers)
    throw new UsageError(`--dense-layers (${m.denseLayers}) exceeds --layers (${m.layers})`);
  if (m.experts % m.groups !== 0 || m.experts / m.groups < 2)
    throw new UsageError(
      `--experts (${m.experts}) must split into --groups (${m.groups}) of at least 2 experts`,
    );
  if (m.topkGroup > m.groups)
    throw new UsageError(`--topk-group (${m.topkGroup}) exceeds --groups (${m.groups})`);
  if (m.expertsPerTok > (m.experts / m.groups) * m.topkGroup)
    throw new UsageError(
      `--experts-per-tok (${m.expertsPerTok}) exceeds the experts of --topk-group groups (${(m.experts / m.groups) * m.topkGroup})`,
    );
}
