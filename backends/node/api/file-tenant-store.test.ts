import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  openFileTenantStore,
  TENANTS_FILE,
  TenantFileError,
  USAGE_FILE,
} from './file-tenant-store.ts';
import { tenantStoreContract } from '../../../test/fixtures/tenants/store-contract.ts';
import { storeAppHarness } from '../../../test/fixtures/tenants/store-app-harness.ts';
import type { MemoryTenantStore } from '../../../src/tenants/index.ts';

const dirs: string[] = [];
const freshDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'unmask-tenants-'));
  dirs.push(d);
  return d;
};
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

tenantStoreContract('file tenant store (Node)', async () => {
  const dir = await freshDir();
  let clock: () => number = Date.now;
  const store = await openFileTenantStore({ dir, now: () => clock() });
  // The harness moves the clock through `now`; the store above reads it through `clock`.
  return storeAppHarness((now) => {
    clock = now;
    return store as MemoryTenantStore;
  });
});

test('tenants, keys and usage survive a restart; the files hold hashes, never keys', async () => {
  const dir = await freshDir();
  const first = await openFileTenantStore({ dir });
  const tenant = await first.createTenant({
    name: 'acme',
    rpm: 7,
    budgetTokens: 500,
    budgetPeriod: 'day',
  });
  const key = await first.createKey({ tenantId: tenant.id });
  const revoked = await first.createKey({ tenantId: tenant.id });
  await first.revokeKey(revoked.id);
  const record = {
    tenantId: tenant.id,
    keyId: key.id,
    requestId: 'req_1',
    model: 'tiny',
    backend: 'edge-node',
    promptTokens: 11,
    completionTokens: 22,
    status: 200,
    durationMs: 3,
    at: Date.now(),
  };
  await first.recordUsage(record);
  await first.recordUsage(record);

  const onDisk = await readFile(join(dir, TENANTS_FILE), 'utf8');
  assert.ok(!onDisk.includes(key.key) && !onDisk.includes(revoked.key));
  assert.equal((await stat(join(dir, TENANTS_FILE))).mode & 0o777, 0o600);
  assert.equal((await readFile(join(dir, USAGE_FILE), 'utf8')).trim().split('\n').length, 1);

  const second = await openFileTenantStore({ dir });
  const auth = await second.authenticate(key.key);
  assert.ok(auth.ok && auth.tenant.rpm === 7 && auth.keyId === key.id);
  assert.deepEqual(await second.authenticate(revoked.key), { ok: false, reason: 'revoked' });
  const usage = await second.usage(tenant.id);
  assert.equal(usage.requests, 1);
  assert.equal(usage.budget?.usedTokens, 33);
});

test('a usage line cut short by a crash is skipped with a warning; a damaged tenants file is a clear error', async () => {
  const dir = await freshDir();
  const store = await openFileTenantStore({ dir });
  const tenant = await store.createTenant({ name: 'a' });
  await store.recordUsage({
    tenantId: tenant.id,
    keyId: 'k',
    requestId: 'r',
    model: 'm',
    backend: 'b',
    promptTokens: 1,
    completionTokens: 2,
    status: 200,
    durationMs: 1,
    at: Date.now(),
  });
  await appendFile(join(dir, USAGE_FILE), '{"tenantId":"ten_x","keyId"');
  const warnings: string[] = [];
  const reopened = await openFileTenantStore({ dir, log: (l) => warnings.push(l) });
  assert.equal((await reopened.usage(tenant.id)).requests, 1);
  assert.match(warnings.join('\n'), /skipped 1 unreadable line/);
  // The torn line got its newline: a record written after it is a line of its own and survives.
  await reopened.recordUsage({
    tenantId: tenant.id,
    keyId: 'k',
    requestId: 'r2',
    model: 'm',
    backend: 'b',
    promptTokens: 1,
    completionTokens: 1,
    status: 200,
    durationMs: 1,
    at: Date.now(),
  });
  assert.equal((await (await openFileTenantStore({ dir })).usage(tenant.id)).requests, 2);

  await writeFile(
    join(dir, TENANTS_FILE),
    '{"format":"unmask-tenants","version":1,"tenants":[{"id":1}],"keys":[]}',
  );
  await assert.rejects(
    openFileTenantStore({ dir }),
    (e: unknown) =>
      e instanceof TenantFileError &&
      /tenants\.json is not an Unmask tenants file: tenants\.0\.id/.test(e.message),
  );
  await writeFile(join(dir, TENANTS_FILE), '{not json');
  await assert.rejects(openFileTenantStore({ dir }), /tenants\.json is not valid JSON/);
});

test('a usage record is in usage.jsonl as soon as it is recorded (before any await): a crash cannot lose it', async () => {
  const dir = await freshDir();
  const store = await openFileTenantStore({ dir });
  const record = (requestId: string) => ({
    tenantId: 'ten_a',
    keyId: 'k',
    requestId,
    model: 'm',
    backend: 'b',
    promptTokens: 3,
    completionTokens: 4,
    status: 200,
    durationMs: 1,
    at: Date.now(),
  });
  for (let i = 0; i < 50; i++) {
    const pending = store.recordUsage(record(`r${i}`));
    // Read back synchronously, with the recording promise not yet awaited.
    const lines = readFileSync(join(dir, USAGE_FILE), 'utf8').trim().split('\n');
    assert.equal(lines.length, i + 1);
    assert.equal(JSON.parse(lines[i]).requestId, `r${i}`);
    await pending;
  }
  store.close();
});

test('temp files left by a crash in the middle of a tenants write are removed at start', async () => {
  const dir = await freshDir();
  await writeFile(join(dir, `${TENANTS_FILE}.4242.tmp`), '{"half":');
  await writeFile(join(dir, `${TENANTS_FILE}.7.tmp`), '');
  await writeFile(join(dir, 'unrelated.tmp'), 'keep');
  const warnings: string[] = [];
  const store = await openFileTenantStore({ dir, log: (l) => warnings.push(l) });
  assert.deepEqual((await readdir(dir)).sort(), ['unrelated.tmp', USAGE_FILE].sort());
  assert.match(warnings.join('\n'), /removed 2 temp file/);
  store.close();
});
