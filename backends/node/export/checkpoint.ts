/**
 * @module
 * Streaming reader of a Hugging Face-layout LLaDA2 checkpoint directory: config.json plus one
 * `model.safetensors` or shards listed in `model.safetensors.index.json`.
 *
 * Opening reads only config.json and the safetensors headers, so a 30 GB checkpoint opens instantly;
 * read() then fetches one tensor's bytes with a positional read. Every failure is a CheckpointError whose
 * message is one line naming the file or tensor at fault.
 */
import { open, readFile, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, parseLlada2Config } from '../../../src/model/config.ts';
import type { Llada2Config } from '../../../src/model/config.ts';
import {
  FLOAT_DTYPES,
  SafetensorsError,
  decodeToFloat32,
  parseSafetensorsHeader,
  readHeaderLength,
} from '../../../src/model/safetensors.ts';

export const CONFIG_FILE = 'config.json';
export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
const READ_CHUNK = 1 << 30;

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export interface CheckpointTensorInfo {
  dtype: string;
  shape: number[];
  /** The safetensors file holding it, relative to the checkpoint directory. */
  file: string;
  bytes: number;
}

export interface Checkpoint {
  dir: string;
  config: Llada2Config;
  rawConfig: Record<string, unknown>;
  /** Tensor names, sorted. */
  names(): string[];
  has(name: string): boolean;
  info(name: string): CheckpointTensorInfo;
  /** One tensor decoded to float32 (F32/F16/BF16/F64 stored dtypes). */
  read(name: string): Promise<{ shape: number[]; data: Float32Array }>;
  /** Rows [start, end) (first axis) decoded to float32, with the whole tensor's shape. */
  readRows(
    name: string,
    start: number,
    end: number,
  ): Promise<{ shape: number[]; data: Float32Array }>;
  /** Sum of all tensors' stored bytes. */
  totalBytes(): number;
  close(): Promise<void>;
}

interface Located extends CheckpointTensorInfo {
  name: string;
  /** Absolute byte offset of the tensor's data in its file. */
  start: number;
}

export async function openCheckpoint(dir: string): Promise<Checkpoint> {
  const { config, rawConfig } = await readConfig(dir);
  const files = await weightFiles(dir);
  const handles = new Map<string, FileHandle>();
  const tensors = new Map<string, Located>();
  try {
    for (const [file, wanted] of files) {
      const handle = await openFile(dir, file);
      handles.set(file, handle);
      for (const [name, t] of await readHeader(handle, dir, file)) {
        if (wanted && !wanted.has(name)) continue;
        tensors.set(name, t);
      }
      for (const name of wanted ?? []) {
        if (!tensors.has(name))
          throw new CheckpointError(
            `${join(dir, file)}: tensor ${name} is listed in ${INDEX_FILE} but missing from the file`,
          );
      }
    }
  } catch (e) {
    await Promise.all([...handles.values()].map((h) => h.close()));
    throw e;
  }
  const sortedNames = [...tensors.keys()].sort();

  function locate(name: string): Located {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(`${dir}: unknown tensor ${name}`);
    return t;
  }

  /** `length` bytes of tensor `t` from byte `from` of its data, by positional reads. */
  async function readBytes(t: Located, from: number, length: number): Promise<Uint8Array> {
    const { name } = t;
    if (!FLOAT_DTYPES.includes(t.dtype)) {
      throw new CheckpointError(
        `${join(dir, t.file)}: tensor ${name} has unsupported dtype ${t.dtype} (supported: ${FLOAT_DTYPES.join(', ')})`,
      );
    }
    const handle = handles.get(t.file);
    if (!handle)
      throw new CheckpointError(
        `${join(dir, t.file)}: checkpoint is closed (reading tensor ${name})`,
      );
    const buf = new Uint8Array(length);
    // One fs read is capped near 2 GiB; big embeddings (fp32 flash: 2.6 GB) need several.
    for (let done = 0; done < length;) {
      const { bytesRead } = await handle.read(
        buf,
        done,
        Math.min(READ_CHUNK, length - done),
        t.start + from + done,
      );
      if (bytesRead === 0)
        throw new CheckpointError(
          `${join(dir, t.file)}: tensor ${name}: read ${done} of ${length} bytes (file changed?)`,
        );
      done += bytesRead;
    }
    return buf;
  }

  return {
    dir,
    config,
    rawConfig,
    names: () => [...sortedNames],
    has: (name) => tensors.has(name),
    info(name) {
      const { dtype, shape, file, bytes } = locate(name);
      return { dtype, shape: [...shape], file, bytes };
    },
    async read(name) {
      const t = locate(name);
      return {
        shape: [...t.shape],
        data: decodeToFloat32(t.dtype, await readBytes(t, 0, t.bytes)),
      };
    },
    async readRows(name, start, end) {
      const t = locate(name);
      const rows = t.shape[0] ?? 1;
      if (!(
        Number.isInteger(start) &&
        Number.isInteger(end) &&
        0 <= start &&
        start <= end &&
        end <= rows
      ))
        throw new CheckpointError(
          `${join(dir, t.file)}: tensor ${name}: rows ${start}..${end} outside [0, ${rows}]`,
        );
      const rowBytes = t.bytes / rows;
      const bytes = await readBytes(t, start * rowBytes, (end - start) * rowBytes);
      return { shape: [...t.shape], data: decodeToFloat32(t.dtype, bytes) };
    },
    totalBytes: () => [...tensors.values()].reduce((s, t) => s + t.bytes, 0),
    async close() {
      const all = [...handles.values()];
      handles.clear();
      await Promise.all(all.map((h) => h.close()));
    },
  };
}

/** Throw a one-line CheckpointError unless tensor `name` exists with exactly `shape`. */
export function expectShape(ckpt: Checkpoint, name: string, shape: number[]): void {
  const got = ckpt.info(name).shape;
  if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
    throw new CheckpointError(
      `${join(ckpt.dir, ckpt.info(name).file)}: tensor ${name} has shape [${got.join(', ')}], expected [${shape.join(', ')}]`,
    );
  }
}

async function readConfig(
  dir: string,
): Promise<{ config: Llada2Config; rawConfig: Record<string, unknown> }> {
  const path = join(dir, CONFIG_FILE);
  const raw = await readJson(path, 'checkpoint config');
  try {
    return { config: parseLlada2Config(raw), rawConfig: raw as Record<string, unknown> };
  } catch (e) {
    if (e instanceof ConfigError)
      throw new CheckpointError(`${path}: ${e.message.replace(/^config\.json: /, '')}`);
    throw e;
  }
}

/** Files to read, each with the tensor names the index assigns to it (undefined: every tensor in the file). */
async function weightFiles(dir: string): Promise<Map<string, Set<string> | undefined>> {
  const indexPath = join(dir, INDEX_FILE);
  if (await exists(indexPath)) {
    const index = await readJson(indexPath, 'safetensors index');
    const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new CheckpointError(`${indexPath}: weight_map is missing or not an object`);
    }
    const files = new Map<string, Set<string>>();
    for (const [name, file] of Object.entries(weightMap)) {
      if (typeof file !== 'string' || file === '' || file.includes('..'))
        throw new CheckpointError(`${indexPath}: weight_map entry for ${name} is not a file name`);
      if (!files.has(file)) files.set(file, new Set());
      files.get(file)!.add(name);
    }
    if (files.size === 0) throw new CheckpointError(`${indexPath}: weight_map is empty`);
    for (const file of files.keys()) {
      if (!(await exists(join(dir, file))))
        throw new CheckpointError(
          `${join(dir, file)}: shard listed in ${INDEX_FILE} does not exist`,
        );
    }
    return files;
  }
  if (await exists(join(dir, SINGLE_FILE))) return new Map([[SINGLE_FILE, undefined]]);
  throw new CheckpointError(`${dir}: no ${SINGLE_FILE} or ${INDEX_FILE}`);
}

async function readHeader(
  handle: FileHandle,
  dir: string,
  file: string,
): Promise<Map<string, Located>> {
  const path = join(dir, file);
  const { size } = await handle.stat();
  const prefix = new Uint8Array(8);
  await handle.read(prefix, 0, 8, 0);
  try {
    const n = readHeaderLength(prefix.subarray(0, Math.min(8, size)));
    if (8 + n > size)
      throw new CheckpointError(
        `${path}: truncated: header of ${n} bytes runs past the end of the ${size}-byte file`,
      );
    const headerBytes = new Uint8Array(n);
    await handle.read(headerBytes, 0, n, 8);
    const header = parseSafetensorsHeader(new TextDecoder().decode(headerBytes));
    const dataStart = 8 + n;
    const out = new Map<string, Located>();
    for (const [name, t] of header.tensors) {
      const [begin, end] = t.dataOffsets;
      if (dataStart + end > size) {
        throw new CheckpointError(
          `${path}: truncated: tensor ${name} ends at byte ${dataStart + end} but the file has ${size} bytes`,
        );
      }
      out.set(name, {
        name,
        dtype: t.dtype,
        shape: t.shape,
        file,
        bytes: end - begin,
        start: dataStart + begin,
      });
    }
    return out;
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(`${path}: ${e.message}`);
    throw e;
  }
}

async function openFile(dir: string, file: string): Promise<FileHandle> {
  try {
    return await open(join(dir, file), 'r');
  } catch (e) {
    throw new CheckpointError(
      `${join(dir, file)}: cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(
      code === 'ENOENT'
        ? `${path}: missing ${what}`
        : `${path}: cannot read: ${code ?? (e as Error).message}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${path}: invalid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
