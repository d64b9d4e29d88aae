/**
 * @module
 * Writes a deterministic random LLaDA2-MoE checkpoint in the exact Hugging Face layout: config.json,
 * model.safetensors (or shards + model.safetensors.index.json), tokenizer.json and tokenizer_config.json.
 * Same options (seed included) → byte-identical files. Used by tests in-process and by
 * `npm run make-tiny-model` (scripts/make-tiny-model.ts).
 */
import { mkdir, readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseLlada2Config } from '../../../src/model/config.ts';
import type { Llada2Config } from '../../../src/model/config.ts';
import { encodeSafetensors } from '../../../src/model/safetensors.ts';
import { trainByteLevelBpe } from '../../../src/export/tiny/bpe-train.ts';
import {
  SPECIAL_TOKENS,
  resolveTinyOptions,
  tinyConfigJson,
} from '../../../src/export/tiny/options.ts';
import type { TinyModelOptions } from '../../../src/export/tiny/options.ts';
import { tokenizerConfigJson, tokenizerJson } from '../../../src/export/tiny/tokenizer-files.ts';
import { tinyTensors } from '../../../src/export/tiny/weights.ts';
import type { TinyTensor } from '../../../src/export/tiny/weights.ts';

export const CORPUS_URL = new URL('./tiny-corpus.txt', import.meta.url);

export interface TinyModelResult {
  dir: string;
  config: Llada2Config;
  rawConfig: Record<string, unknown>;
  /** Files written, relative to dir, with their sizes. */
  files: { name: string; bytes: number }[];
  /** BPE tokens learned (byte alphabet included); ids from here to vocab - 5 are unused. */
  bpeVocab: number;
}

export type MakeTinyModelOptions = Partial<TinyModelOptions> & {
  out: string;
  /** Progress lines (default: none). The CLI passes one that writes to stderr. */
  log?: (line: string) => void;
};

const DTYPE_NAMES = { f32: 'F32', bf16: 'BF16', f16: 'F16' } as const;
const WEIGHT_FILE = /^model(-\d{5}-of-\d{5})?\.safetensors$|^model\.safetensors\.index\.json$/;

export async function makeTinyModel(options: MakeTinyModelOptions): Promise<TinyModelResult> {
  const { log = () => {}, ...rest } = options;
  const o = resolveTinyOptions(rest);
  const rawConfig = tinyConfigJson(o);
  const config = parseLlada2Config(rawConfig); // the project's own validation must accept what we write
  await mkdir(o.out, { recursive: true });
  // A stale index or shard from an earlier run with other --shards would shadow or pollute the new weights.
  for (const name of await readdir(o.out))
    if (WEIGHT_FILE.test(name)) await unlink(join(o.out, name));
  const files: TinyModelResult['files'] = [];
  const write = async (name: string, data: string | Uint8Array) => {
    await writeFile(join(o.out, name), data);
    files.push({ name, bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.length });
  };
  const json = (x: unknown) => `${JSON.stringify(x, null, 2)}\n`;

  await write('config.json', json(rawConfig));

  const tensors = tinyTensors(o);
  const shards = splitShards(tensors, o.shards);
  const metadata = { format: 'pt' };
  const dtype = DTYPE_NAMES[o.dtype];
  if (shards.length === 1) {
    await write(
      'model.safetensors',
      encodeSafetensors(
        tensors.map((t) => ({ ...t, dtype })),
        metadata,
      ),
    );
  } else {
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    for (const [i, shard] of shards.entries()) {
      const name = `model-${pad5(i + 1)}-of-${pad5(shards.length)}.safetensors`;
      const bytes = encodeSafetensors(
        shard.map((t) => ({ ...t, dtype })),
        metadata,
      );
      await write(name, bytes);
      for (const t of shard) {
        weightMap[t.name] = name;
        totalSize += t.data.length * (o.dtype === 'f32' ? 4 : 2);
      }
    }
    await write(
      'model.safetensors.index.json',
      json({ metadata: { total_size: totalSize }, weight_map: sortKeys(weightMap) }),
    );
  }
  log(
    `make-tiny-model: ${tensors.length} tensors, ${tensors.reduce((s, t) => s + t.data.length, 0)} parameters, ${o.dtype}, ${shards.length} file(s)`,
  );

  const corpus = await readFile(CORPUS_URL, 'utf8');
  const bpe = trainByteLevelBpe(corpus, o.vocab - SPECIAL_TOKENS.length);
  await write('tokenizer.json', json(tokenizerJson(bpe, o.vocab)));
  await write('tokenizer_config.json', json(tokenizerConfigJson(o.vocab, o.maxPositions)));
  log(
    `make-tiny-model: tokenizer with ${bpe.tokens.length} BPE tokens (${bpe.merges.length} merges) + ${SPECIAL_TOKENS.length} special, vocab ${o.vocab}`,
  );
  log(`make-tiny-model: wrote ${o.out}`);
  return { dir: o.out, config, rawConfig, files, bpeVocab: bpe.tokens.length };
}

/** Consecutive runs of the name-sorted tensors with about equal bytes each; never an empty shard. */
function splitShards(tensors: TinyTensor[], count: number): TinyTensor[][] {
  const n = Math.min(count, tensors.length);
  const total = tensors.reduce((s, t) => s + t.data.length, 0);
  const shards: TinyTensor[][] = [];
  let current: TinyTensor[] = [];
  let seen = 0;
  for (const [i, t] of tensors.entries()) {
    current.push(t);
    seen += t.data.length;
    const remainingTensors = tensors.length - i - 1;
    const remainingShards = n - shards.length - 1;
    if (
      remainingShards > 0 &&
      (seen >= (total * (shards.length + 1)) / n || remainingTensors === remainingShards)
    ) {
      shards.push(current);
      current = [];
    }
  }
  shards.push(current);
  return shards;
}

function pad5(n: number): string {
  return String(n).padStart(5, '0');
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
