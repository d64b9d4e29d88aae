/**
 * @module
 * Resumable checkpoints. A checkpoint directory is a complete HF checkpoint (hf-checkpoint.ts: exportable as
 * is) plus `train-state.json` (settings, step, time, history) and `train-state.safetensors` (parameters in the
 * training layout, the Adam moments and the expert bias, F32), so --resume continues exactly where the run
 * stopped.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  encodeSafetensors,
  decodeToFloat32,
  readSafetensors,
  tensorBytes,
} from '../src/model/safetensors.ts';
import { atomicWrite, writeHfCheckpoint, type ExpertBias } from './hf-checkpoint.ts';
import { moeLayers, paramShapes } from './shapes.ts';
import type { RunSettings } from './options.ts';

export const STATE_JSON = 'train-state.json';
export const STATE_TENSORS = 'train-state.safetensors';
const FORMAT = 'unmask-train-state';
const VERSION = 2;

export interface HistoryEntry {
  step: number;
  /** Mean loss over the steps since the previous entry (absent on a note). */
  loss?: number;
  elapsedMs: number;
  /** Held-out accuracy per task at threshold 0.9, when this entry is an evaluation. */
  accuracy?: Record<string, number>;
  tokensPerForward?: Record<string, number>;
  /** A resume that changed the horizon or the task mix (a new phase of the run). */
  note?: string;
  /**
   * Share of the routed tokens each expert took since the previous entry, per MoE layer (index: layer), each
   * row summing to 1.
   */
  expertLoad?: Record<string, number[]>;
}

export interface TrainState {
  settings: RunSettings;
  /** Steps done (the next step's 0-based index). */
  step: number;
  /** Training wall time over every invocation so far. */
  elapsedMs: number;
  history: HistoryEntry[];
  params: Map<string, Float32Array>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
  bias: ExpertBias;
}

export async function saveState(dir: string, s: TrainState): Promise<void> {
  const shapes = paramShapes(s.settings.model);
  const tensors = shapes.flatMap(([name, shape]) => [
    { name: `param/${name}`, dtype: 'F32' as const, shape, data: s.params.get(name)! },
    { name: `adam.m/${name}`, dtype: 'F32' as const, shape, data: s.m.get(name)! },
    { name: `adam.v/${name}`, dtype: 'F32' as const, shape, data: s.v.get(name)! },
  ]);
  for (const l of moeLayers(s.settings.model))
    tensors.push({
      name: `bias/l${l}`,
      dtype: 'F32' as const,
      shape: [s.settings.model.experts],
      data: s.bias.get(l)!,
    });
  await writeHfCheckpoint(dir, s.settings.model, s.params, {
    maxPositions: s.settings.maxPositions,
    bias: s.bias,
    metadata: {
      trained_by: 'unmask train-tiny',
      step: String(s.step),
      seed: String(s.settings.seed),
      block_length: String(s.settings.blockLength),
    },
  });
  await atomicWrite(join(dir, STATE_TENSORS), encodeSafetensors(tensors));
  const json = {
    format: FORMAT,
    version: VERSION,
    step: s.step,
    elapsedMs: Math.round(s.elapsedMs),
    settings: s.settings,
    history: s.history,
  };
  await atomicWrite(join(dir, STATE_JSON), `${JSON.stringify(json, null, 2)}\n`);
}

interface StateHeader {
  format?: string;
  version?: number;
  step: number;
  elapsedMs: number;
  settings: RunSettings;
  history: HistoryEntry[];
}

/** The JSON half of a checkpoint; throws one line when `dir` holds none. */
export async function readStateHeader(dir: string): Promise<StateHeader> {
  let raw: StateHeader;
  try {
    raw = JSON.parse(await readFile(join(dir, STATE_JSON), 'utf8'));
  } catch {
    throw new Error(`no readable ${STATE_JSON} in ${dir}: not a train-tiny checkpoint`);
  }
  if (raw.format !== FORMAT || raw.version !== VERSION)
    throw new Error(`${join(dir, STATE_JSON)} is not a ${FORMAT} v${VERSION} file`);
  return raw;
}

export async function loadState(dir: string): Promise<TrainState> {
  const raw = await readStateHeader(dir);
  const bytes = new Uint8Array(await readFile(join(dir, STATE_TENSORS)));
  const file = readSafetensors(bytes);
  const params = new Map<string, Float32Array>();
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(raw.settings.model)) {
    for (const [prefix, target] of [
      ['param', params],
      ['adam.m', m],
      ['adam.v', v],
    ] as const) {
      const info = file.tensors.get(`${prefix}/${name}`);
      if (!info || info.shape.join(',') !== shape.join(','))
        throw new Error(`${STATE_TENSORS} lacks ${prefix}/${name} [${shape}]`);
      target.set(name, decodeToFloat32(info.dtype, tensorBytes(bytes, file.dataStart, info)));
    }
  }
  const bias: ExpertBias = new Map();
  for (const l of moeLayers(raw.settings.model)) {
    const info = file.tensors.get(`bias/l${l}`);
    if (!info || info.shape.join(',') !== String(raw.settings.model.experts))
      throw new Error(`${STATE_TENSORS} lacks bias/l${l} [${raw.settings.model.experts}]`);
    bias.set(l, decodeToFloat32(info.dtype, tensorBytes(bytes, file.dataStart, info)));
  }
  return {
    settings: raw.settings,
    step: raw.step,
    elapsedMs: raw.elapsedMs,
    history: raw.history,
    params,
    m,
    v,
    bias,
  };
}
