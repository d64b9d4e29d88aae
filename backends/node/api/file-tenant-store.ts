/**
 * Tenants, keys and usage of the Node server, kept in a directory: `tenants.json` (tenants and key hashes,
 * rewritten atomically on every admin change) and `usage.jsonl` (one usage record per line, appended before the
 * request's final byte: see usage-log.ts). Both are read back at start, so keys, limits, usage summaries and
 * budgets survive a restart, kill -9 included; temp files a crash left behind are removed. One server process
 * per directory: several replicas need a shared store (deploy on Workers, where D1 and Durable Objects are that
 * store).
 */
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { z } from 'zod';
import type { UsageRecord } from '../../../src/api/tenancy.ts';
import {
  createMemoryTenantStore,
  type MemoryTenantStore,
  type TenantSnapshot,
} from '../../../src/tenants/index.ts';
import { UsageLog } from './usage-log.ts';

export const TENANTS_FILE = 'tenants.json';
export const USAGE_FILE = 'usage.jsonl';
const FORMAT = 'unmask-tenants';

const nullableInt = z.number().int().nullable();
const TenantSchema = z.object({
  id: z.string(),
  name: z.string(),
  models: z.array(z.string()).nullable(),
  rpm: nullableInt,
  tpm: nullableInt,
  maxConcurrent: nullableInt,
  maxTokens: nullableInt,
  budgetTokens: nullableInt,
  budgetPeriod: z.enum(['day', 'month']).nullable(),
  degradeToEdge: z.boolean(),
  createdAt: z.number(),
});
const KeySchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  hint: z.string(),
  createdAt: z.number(),
  expiresAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
const FileSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  tenants: z.array(TenantSchema),
  keys: z.array(KeySchema),
});
const UsageSchema = z.object({
  tenantId: z.string(),
  keyId: z.string(),
  requestId: z.string(),
  model: z.string(),
  backend: z.string(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  status: z.number(),
  durationMs: z.number(),
  at: z.number(),
});

/** The directory cannot be used: a one-line reason naming the file. */
export class TenantFileError extends Error {
  override name = 'TenantFileError';
}

export interface FileTenantStoreOptions {
  dir: string;
  now?: () => number;
  /** Warnings (skipped usage lines). */
  log?: (line: string) => void;
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TenantFileError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

async function readSnapshot(path: string): Promise<TenantSnapshot | undefined> {
  const text = await readIfExists(path);
  if (text === null) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TenantFileError(`${path} is not valid JSON`);
  }
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TenantFileError(
      `${path} is not an Unmask tenants file: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  return { tenants: parsed.data.tenants, keys: parsed.data.keys };
}

/**
 * Usage records, one per line, streamed (the log may outgrow one string). A line that does not parse (a write cut
 * short by a crash) is skipped with a warning, and a missing final newline is added so the next record starts a
 * line of its own.
 */
async function readUsage(path: string, log: (line: string) => void): Promise<UsageRecord[]> {
  const size = (await stat(path).catch(() => null))?.size;
  if (size === undefined) return [];
  const records: UsageRecord[] = [];
  let skipped = 0;
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      records.push(UsageSchema.parse(JSON.parse(line)));
    } catch {
      skipped++;
    }
  }
  if (skipped) log(`${path}: skipped ${skipped} unreadable line(s)`);
  if (size > 0) {
    const handle = await open(path, 'r');
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    await handle.close();
    if (last[0] !== 0x0a) await appendFile(path, '\n');
  }
  return records;
}

/** `tenants.json.<pid>.tmp` files of a process that crashed mid-write (the rename never happened). */
async function removeStaleTemps(dir: string, log: (line: string) => void): Promise<void> {
  const prefix = `${TENANTS_FILE}.`;
  const stale = (await readdir(dir)).filter(
    (name) => name.startsWith(prefix) && /^\d+\.tmp$/.test(name.slice(prefix.length)),
  );
  for (const name of stale) await rm(join(dir, name), { force: true });
  if (stale.length) log(`${dir}: removed ${stale.length} temp file(s) left by a crash`);
}

export interface FileTenantStore extends MemoryTenantStore {
  /** Flushes and closes usage.jsonl (the store records no more usage after it). */
  close(): void;
}

/** Opens (or starts) the store in `dir`. */
export async function openFileTenantStore({
  dir,
  now,
  log = () => {},
}: FileTenantStoreOptions): Promise<FileTenantStore> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await removeStaleTemps(dir, log);
  const tenantsPath = join(dir, TENANTS_FILE);
  const usagePath = join(dir, USAGE_FILE);
  const [initial, usage] = await Promise.all([
    readSnapshot(tenantsPath),
    readUsage(usagePath, log),
  ]);
  const usageLog = new UsageLog(usagePath);
  const store = createMemoryTenantStore({
    initial,
    usage,
    now,
    // Write a temp file, then rename over the old one: a crash leaves the old file or the new one, never half.
    persist: async (snapshot) => {
      const tmp = `${tenantsPath}.${process.pid}.tmp`;
      const handle = await open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(
          `${JSON.stringify({ format: FORMAT, version: 1, ...snapshot }, null, 2)}\n`,
        );
        await handle.sync(); // on disk before the rename makes it the file: a power cut leaves old or new, not empty
      } finally {
        await handle.close();
      }
      await rename(tmp, tenantsPath);
    },
    // Written synchronously, in order, before recordUsage's first await: durable when the request settles.
    appendUsage: async (record) => usageLog.append(JSON.stringify(record)),
  });
  return Object.assign(store, { close: () => usageLog.close() });
}
