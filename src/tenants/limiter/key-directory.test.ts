import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tenant } from '../../api/tenancy.ts';
import type { TenantDirectory } from '../d1/directory.ts';
import { KeyDirectory } from './key-directory.ts';

const tenant: Tenant = {
  id: 'ten_a',
  name: 'a',
  models: null,
  rpm: null,
  tpm: null,
  maxConcurrent: null,
  maxTokens: null,
  budgetTokens: null,
  budgetPeriod: null,
  degradeToEdge: false,
  createdAt: 0,
};
const hash = (c: string) => c.repeat(64);

function directory(revokedAt: number | null = null): TenantDirectory {
  return {
    tenant,
    keys: [
      { id: 'key_1', hash: hash('1'), expiresAt: 500, revokedAt: null },
      { id: 'key_2', hash: hash('2'), expiresAt: null, revokedAt },
    ],
  };
}

test('checks hash, expiry and revocation at the given time; reads D1 once until invalidated', async () => {
  let reads = 0;
  let current = directory();
  const keys = new KeyDirectory(async () => (reads++, current));
  assert.deepEqual(await keys.check('ten_a', hash('2'), 100), {
    ok: true,
    tenant,
    keyId: 'key_2',
  });
  assert.deepEqual(await keys.check('ten_a', hash('1'), 500), { ok: false, reason: 'expired' });
  assert.deepEqual(await keys.check('ten_a', hash('3'), 100), { ok: false, reason: 'invalid' });
  assert.equal(reads, 1);
  current = directory(200); // revoked in D1 …
  assert.equal((await keys.check('ten_a', hash('2'), 300)).ok, true, 'not re-read until told');
  keys.invalidate(); // … and the admin API tells the object
  assert.deepEqual(await keys.check('ten_a', hash('2'), 300), { ok: false, reason: 'revoked' });
  assert.equal((await keys.check('ten_a', hash('2'), 150)).ok, true, 'revoked from revokedAt on');
  assert.equal(reads, 2);
});

test('a read under way when an invalidation arrives is used once, never kept', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let reads = 0;
  const keys = new KeyDirectory(async () => {
    reads++;
    if (reads === 1) await gate;
    return reads === 1 ? directory() : directory(0);
  });
  const first = keys.check('ten_a', hash('2'), 100);
  keys.invalidate();
  release();
  assert.equal((await first).ok, true);
  assert.deepEqual(await keys.check('ten_a', hash('2'), 100), { ok: false, reason: 'revoked' });
  assert.equal(reads, 2);
});

test('an unknown tenant is an invalid key', async () => {
  const keys = new KeyDirectory(async () => null);
  assert.deepEqual(await keys.check('ten_x', hash('1'), 0), { ok: false, reason: 'invalid' });
});
