/**
 * Writes a random bf16 checkpoint of any size in the Hugging Face layout (config.json, shards of a few GB
 * named model-0000i-of-0000n.safetensors, model.safetensors.index.json, tokenizer files) with bounded memory:
 * each shard's header is computed from the shapes alone, then every tensor is generated and written in chunks.
 *
 * Values are bf16 draws from a 65 536-entry quantile table of the tensor's init distribution (uniform with the
 * init's mean and standard deviation), indexed by a seeded mulberry32 stream per tensor: two values per
 * 32-bit draw, fast enough for 16 B parameters, and the same seed gives the same files.
 */
import { open, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { float32ToBfloat16Bits } from '../../../src/model/safetensors.ts';
import { streamSeed } from '../../../src/export/tiny/rng.ts';
import { trainByteLevelBpe } from '../../../src/export/tiny/bpe-train.ts';
import type { Init, TensorSpec } from '../../../src/export/tiny/weights.ts';
import {
  tokenizerConfigJson,
  tokenizerJson,
  type SpecialIds,
} from '../../../src/export/tiny/tokenizer-files.ts';
import { SPECIAL_TOKENS } from '../../../src/export/tiny/options.ts';
import { CORPUS_URL } from '../export/make-tiny-model.ts';

/** About the official repository's shard size. */
export const DEFAULT_SHARD_BYTES = 5 * 10 ** 9;
/** Values generated per write (64 MiB of bf16). */
const CHUNK_VALUES = 32 * 2 ** 20;

export interface RandomCheckpointOptions {
  dir: string;
  config: Record<string, unknown>;
  tensors: TensorSpec[];
  specialIds: SpecialIds;
  seed?: number;
  shardBytes?: number;
  /** Rows of lm_head.weight set to zero (the mask token: a trained model never predicts it). */
  zeroHeadRows?: number[];
  onProgress?: (doneBytes: number, totalBytes: number, file: string) => void;
}

export interface RandomCheckpoint {
  dir: string;
  files: { name: string; bytes: number }[];
  /** Weight bytes (the index's total_size). */
  weightBytes: number;
  parameters: number;
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const pad5 = (n: number) => String(n).padStart(5, '0');

/** Consecutive runs of tensors of about `shardBytes` each (a tensor is never split). */
export function planShards(tensors: TensorSpec[], shardBytes: number): TensorSpec[][] {
  const shards: TensorSpec[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const bytes = numel(t.shape) * 2;
    if (size > 0 && size + bytes > shardBytes) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(t);
    size += bytes;
  }
  return shards;
}

export async function writeRandomCheckpoint(
  opts: RandomCheckpointOptions,
): Promise<RandomCheckpoint> {
  const { dir, tensors, seed = 0, onProgress } = opts;
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(dir))
    if (/\.safetensors(\.index\.json)?$/.test(name)) await rm(join(dir, name));
  const files: RandomCheckpoint['files'] = [];
  const json = async (name: string, value: unknown) => {
    const text = `${JSON.stringify(value, null, 2)}\n`;
    await writeFile(join(dir, name), text);
    files.push({ name, bytes: Buffer.byteLength(text) });
  };
  await json('config.json', opts.config);

  const shards = planShards(tensors, opts.shardBytes ?? DEFAULT_SHARD_BYTES);
  const weightBytes = tensors.reduce((s, t) => s + numel(t.shape) * 2, 0);
  const weightMap: Record<string, string> = {};
  let done = 0;
  for (const [i, shard] of shards.entries()) {
    const name = `model-${pad5(i + 1)}-of-${pad5(shards.length)}.safetensors`;
    const bytes = await writeShard(join(dir, name), shard, seed, opts.zeroHeadRows ?? [], (n) => {
      done += n;
      onProgress?.(done, weightBytes, name);
    });
    files.push({ name, bytes });
    for (const t of shard) weightMap[t.name] = name;
  }
  await json('model.safetensors.index.json', {
    metadata: { total_size: weightBytes },
    weight_map: Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1))),
  });

  const vocab = (opts.config as { vocab_size: number }).vocab_size;
  const maxPositions = (opts.config as { max_position_embeddings: number }).max_position_embeddings;
  // A small real tokenizer (its merges fill the first ids); the ids above it up to the specials are unused.
  const bpeSize = Math.min(4096, vocab) - SPECIAL_TOKENS.length;
  const bpe = trainByteLevelBpe(await readFile(CORPUS_URL, 'utf8'), bpeSize);
  await json('tokenizer.json', tokenizerJson(bpe, vocab, opts.specialIds));
  await json('tokenizer_config.json', tokenizerConfigJson(vocab, maxPositions, opts.specialIds));
  return { dir, files, weightBytes, parameters: weightBytes / 2 };
}

async function writeShard(
  path: string,
  shard: TensorSpec[],
  seed: number,
  zeroHeadRows: number[],
  onBytes: (n: number) => void,
): Promise<number> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of shard) {
    const bytes = numel(t.shape) * 2;
    header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const headerBytes = Buffer.from(text);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const handle = await open(path, 'w');
  try {
    await handle.write(prefix);
    await handle.write(headerBytes);
    const chunk = new Uint16Array(CHUNK_VALUES);
    for (const t of shard) {
      const table = quantileTable(t.init);
      const rows = t.name === 'lm_head.weight' ? zeroHeadRows : [];
      const rowLength = t.shape.at(-1)!;
      let state = streamSeed(seed, t.name) | 0;
      for (let start = 0, n = numel(t.shape); start < n; start += CHUNK_VALUES) {
        const view = chunk.subarray(0, Math.min(CHUNK_VALUES, n - start));
        state = fillFromTable(view, table, state);
        for (const r of rows) {
          const from = Math.max(r * rowLength, start);
          const to = Math.min((r + 1) * rowLength, start + view.length);
          if (from < to) view.fill(0, from - start, to - start);
        }
        await handle.write(new Uint8Array(view.buffer, 0, view.byteLength));
        onBytes(view.byteLength);
      }
    }
  } finally {
    await handle.close();
  }
  return 8 + headerBytes.length + offset;
}

/** bf16 bits of 65 536 evenly spaced quantiles of a uniform distribution with the init's mean and std. */
function quantileTable(init: Init): Uint16Array {
  const [mean, std] =
    init.kind === 'normal' ? [init.mean ?? 0, init.std] : [init.base, init.base * init.spread];
  const half = std * Math.sqrt(3);
  const table = new Uint16Array(65536);
  for (let i = 0; i < 65536; i++)
    table[i] = float32ToBfloat16Bits(mean - half + (2 * half * (i + 0.5)) / 65536);
  return table;
}

/** mulberry32, two table lookups per 32-bit draw; returns the stream state for the next chunk. */
function fillFromTable(out: Uint16Array, table: Uint16Array, seed: number): number {
  let state = seed;
  const n = out.length;
  for (let i = 0; i < n; i += 2) {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t ^= t >>> 14;
    out[i] = table[t & 0xffff];
    if (i + 1 < n) out[i + 1] = table[(t >>> 16) & 0xffff];
  }
  return state;
}
