/** In-memory BlobStore and FileCache for loader tests: packages built from strings, every request counted. */
import {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_FORMAT_VERSION,
  type Manifest,
} from '../manifest.ts';
import { sha256Hex } from '../loader/sha256.ts';
import type { BlobStore, ByteRange, FileCache, ObjectInfo } from '../store.ts';

export class MemoryStore implements BlobStore {
  readonly objects = new Map<string, Uint8Array>();
  readonly calls: string[] = [];
  constructor(readonly location = 'mem://pkg') {}

  async get(key: string, range?: ByteRange): Promise<Uint8Array | null> {
    this.calls.push(range ? `get ${key} ${range.offset}+${range.length}` : `get ${key}`);
    const bytes = this.objects.get(key);
    if (!bytes) return null;
    return range ? bytes.slice(range.offset, range.offset + range.length) : bytes.slice();
  }

  async head(key: string): Promise<ObjectInfo | null> {
    this.calls.push(`head ${key}`);
    const bytes = this.objects.get(key);
    return bytes ? { size: bytes.length } : null;
  }
}

export class MemoryCache implements FileCache {
  readonly entries = new Map<string, Uint8Array>();
  async get(sha256: string): Promise<Uint8Array | null> {
    return this.entries.get(sha256) ?? null;
  }
  async put(sha256: string, bytes: Uint8Array): Promise<void> {
    this.entries.set(sha256, bytes.slice());
  }
}

/** A minimal valid manifest listing `files` (contents by path); the graph is the first file. */
export async function makeManifest(
  files: Record<string, Uint8Array>,
  overrides: Record<string, unknown> = {},
): Promise<Manifest> {
  const entries = await Promise.all(
    Object.entries(files).map(async ([path, bytes]) => ({
      path,
      bytes: bytes.length,
      sha256: await sha256Hex(bytes),
      role: 'other' as const,
    })),
  );
  return {
    format: MANIFEST_FORMAT,
    format_version: MANIFEST_FORMAT_VERSION,
    name: 'mem',
    architecture: 'llada2_moe',
    config: {},
    tokens: { mask_id: 1, eos_id: 2, vocab_size: 8 },
    decode: { block_length: 4, max_positions: 64 },
    quantization: { dtype: 'fp32' },
    moe: { implementation: 'none' },
    graph: {
      file: entries[0].path,
      external_data: [],
      opset: 17,
      topk: 2,
      layers: 1,
      kv_heads: 1,
      head_dim: 4,
      inputs: [],
      outputs: [],
      session_config: {},
    },
    tokenizer: { file: 'tokenizer.json', config_file: 'tokenizer_config.json' },
    files: entries,
    created_by: 'test',
    ...overrides,
  } as Manifest;
}

/** A store holding `files` plus their manifest. */
export async function memoryPackage(
  files: Record<string, Uint8Array>,
  location?: string,
): Promise<{ store: MemoryStore; manifest: Manifest }> {
  const store = new MemoryStore(location);
  const manifest = await makeManifest(files);
  for (const [path, bytes] of Object.entries(files)) store.objects.set(path, bytes);
  store.objects.set(MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(manifest)));
  return { store, manifest };
}

export function patternBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}
