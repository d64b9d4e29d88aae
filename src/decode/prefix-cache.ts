/**
 * Prompt-prefix K/V shared across requests (an automatic prefix cache, as vLLM and SGLang have), exact because
 * attention is block-causal: the K/V of the complete blocks [0, kB) depend on those tokens alone. A request whose
 * prompt starts with cached blocks prefills only the rest (nothing at all on a full hit). Entries are found by a
 * hash chained block by block and confirmed against their stored ids, so a hash collision can never serve another
 * prompt's K/V; the least recently used entries go first once `maxBytes` (or `maxPositions`) is exceeded.
 *
 * Only runners whose states are plain values can share them: a runner with `release()` recycles state memory, so
 * the cache never holds or hands out its states (lookups miss, stores are skipped).
 */
import type { BlockRunner, KvState } from './runner.ts';

export interface PrefixHit {
  /** K/V of the first `length` prompt positions, owned by the caller (the runner's `truncate` of the cached state). */
  state: KvState;
  /** A multiple of the block length, > 0. */
  length: number;
}

interface Entry {
  ids: Int32Array;
  state: KvState;
  blockLength: number;
  /** Prefix keys that point at it; at 0 it is unreachable and dropped. */
  keys: number;
}

export interface PrefixCacheOptions {
  /** K/V bytes at most, over all entries, for runners whose states report `bytes` (default 32 MiB). */
  maxBytes?: number;
  /** Cached positions at most, over all entries (default: no limit but maxBytes). */
  maxPositions?: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over one block's ids, chained from the previous blocks' hash. */
function chain(hash: number, ids: Int32Array, start: number, end: number): number {
  let h = hash ^ (end - start);
  for (let i = start; i < end; i++) {
    const v = ids[i];
    for (let b = 0; b < 32; b += 8) h = Math.imul(h ^ ((v >>> b) & 0xff), FNV_PRIME);
  }
  return h >>> 0;
}

export class PrefixCache {
  readonly maxPositions: number;
  readonly maxBytes: number;
  /** hash of (block length, first k blocks) → the entry covering them; Map order is recency (oldest first). */
  private readonly byPrefix = new Map<string, Entry>();
  private readonly entries = new Set<Entry>();
  private positions = 0;
  private heldBytes = 0;
  hits = 0;
  misses = 0;

  constructor({
    maxBytes = 32 * 2 ** 20,
    maxPositions = Number.MAX_SAFE_INTEGER,
  }: PrefixCacheOptions = {}) {
    if (!(Number.isInteger(maxPositions) && maxPositions >= 0))
      throw new RangeError(`maxPositions must be an integer ≥ 0, got ${maxPositions}`);
    if (!(Number.isInteger(maxBytes) && maxBytes >= 0))
      throw new RangeError(`maxBytes must be an integer ≥ 0, got ${maxBytes}`);
    this.maxPositions = maxPositions;
    this.maxBytes = maxBytes;
  }

  /** Cached positions now. */
  get size(): number {
    return this.positions;
  }

  /** Cached K/V bytes now (states that report them). */
  get bytes(): number {
    return this.heldBytes;
  }

  /** The longest cached block-aligned prefix of `ids[0, limit)`, or null. */
  lookup(
    runner: BlockRunner,
    ids: Int32Array,
    limit: number,
    blockLength: number,
  ): PrefixHit | null {
    if (runner.release || limit < blockLength) return null;
    const keys = this.keys(ids, limit, blockLength);
    for (let k = keys.length; k >= 1; k--) {
      const entry = this.byPrefix.get(keys[k - 1]);
      const length = k * blockLength;
      if (!entry || !sameIds(entry.ids, ids, length)) continue;
      this.touch(entry, keys, k);
      this.hits++;
      return { state: runner.truncate(entry.state, length), length };
    }
    this.misses++;
    return null;
  }

  /** Keeps `state` (K/V of `ids[0, length)`, length a multiple of the block length) for later requests. */
  store(runner: BlockRunner, ids: Int32Array, state: KvState, blockLength: number): void {
    const length = state.length;
    if (
      runner.release ||
      length < blockLength ||
      length % blockLength !== 0 ||
      length > this.maxPositions ||
      (state.bytes ?? 0) > this.maxBytes
    )
      return;
    const keys = this.keys(ids, length, blockLength);
    const existing = this.byPrefix.get(keys[keys.length - 1]);
    if (existing && existing.ids.length >= length && sameIds(existing.ids, ids, length)) {
      this.touch(existing, keys, keys.length);
      return;
    }
    const entry: Entry = { ids: ids.slice(0, length), state, blockLength, keys: 0 };
    this.entries.add(entry);
    this.positions += length;
    this.heldBytes += state.bytes ?? 0;
    // The new entry takes over the shorter prefixes too (a conversation growing turn by turn): an older entry
    // that loses its last key is unreachable and goes at once.
    for (const key of keys) this.point(key, entry);
    this.evict();
  }

  /** Entries held (for tests and stats). */
  get entryCount(): number {
    return this.entries.size;
  }

  clear(): void {
    this.byPrefix.clear();
    this.entries.clear();
    this.positions = 0;
    this.heldBytes = 0;
  }

  private keys(ids: Int32Array, limit: number, blockLength: number): string[] {
    const keys: string[] = [];
    let h = chain(FNV_OFFSET, Int32Array.of(blockLength), 0, 1);
    for (let end = blockLength; end <= limit; end += blockLength) {
      h = chain(h, ids, end - blockLength, end);
      keys.push(`${blockLength}:${end}:${h}`);
    }
    return keys;
  }

  private point(key: string, entry: Entry): void {
    const old = this.byPrefix.get(key);
    this.byPrefix.delete(key);
    this.byPrefix.set(key, entry);
    entry.keys++;
    if (old && old !== entry) this.unref(old);
    else if (old === entry) entry.keys--;
  }

  private unref(entry: Entry): void {
    if (--entry.keys > 0 || !this.entries.delete(entry)) return;
    this.positions -= entry.ids.length;
    this.heldBytes -= entry.state.bytes ?? 0;
  }

  /** Marks the first `k` prefixes as most recently used. */
  private touch(entry: Entry, keys: string[], k: number): void {
    for (let i = 0; i < k; i++) {
      if (this.byPrefix.get(keys[i]) !== entry) continue;
      this.byPrefix.delete(keys[i]);
      this.byPrefix.set(keys[i], entry);
    }
  }

  /** Drops the entry behind the least recently used prefix, all its prefixes with it, until the budget holds. */
  private evict(): void {
    while (
      (this.positions > this.maxPositions || this.heldBytes > this.maxBytes) &&
      this.byPrefix.size > 0
    ) {
      const entry = this.byPrefix.values().next().value as Entry;
      for (const [key, e] of [...this.byPrefix]) {
        if (e !== entry) continue;
        this.byPrefix.delete(key);
        this.unref(entry);
      }
    }
  }
}

function sameIds(a: Int32Array, b: Int32Array, length: number): boolean {
  if (a.length < length || b.length < length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}
