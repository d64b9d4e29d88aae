import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  API_KEY_PREFIX,
  constantTimeEqual,
  generateApiKey,
  hashApiKey,
  keyHint,
  looksLikeApiKey,
  newKeyId,
  newTenantId,
  randomBase62,
  secretsEqual,
  tenantOfApiKey,
} from './keys.ts';

test('keys minted for a tenant name it; legacy keys and imported tenant ids name none', () => {
  const tenantId = newTenantId();
  const key = generateApiKey(tenantId);
  assert.match(key, new RegExp(`^sk-unmask-${tenantId}_[0-9A-Za-z]{43}$`));
  assert.ok(looksLikeApiKey(key));
  assert.equal(tenantOfApiKey(key), tenantId);
  const legacy = generateApiKey();
  assert.ok(looksLikeApiKey(legacy));
  assert.equal(tenantOfApiKey(legacy), null);
  assert.equal(tenantOfApiKey(generateApiKey('imported-tenant')), null);
  assert.equal(tenantOfApiKey(`${key.slice(0, -1)}!`), null);
  assert.equal(looksLikeApiKey(`sk-unmask-${tenantId}_short`), false);
});

test('keys are sk-unmask- + 43 base62 characters (≥256 bits) and never repeat', () => {
  const keys = new Set(Array.from({ length: 200 }, generateApiKey));
  assert.equal(keys.size, 200);
  for (const key of keys) {
    assert.match(key, /^sk-unmask-[0-9A-Za-z]{43}$/);
    assert.ok(key.startsWith(API_KEY_PREFIX));
    assert.ok(looksLikeApiKey(key));
  }
  assert.ok(43 * Math.log2(62) >= 256);
});

test('base62 output is uniform enough (every symbol appears, no gross bias)', () => {
  const text = randomBase62(62 * 400);
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  assert.equal(counts.size, 62);
  for (const n of counts.values()) assert.ok(n > 250 && n < 550, `count ${n} far from 400`);
});

test('looksLikeApiKey rejects other shapes before any lookup', () => {
  for (const bad of [
    '',
    'sk-unmask-',
    'sk-abc',
    `${generateApiKey()}x`,
    `sk-unmask-${'a'.repeat(42)}!`,
    'Bearer sk-unmask-x',
  ]) {
    assert.equal(looksLikeApiKey(bad), false, bad);
  }
});

test('hashApiKey is hex SHA-256 of the whole key (Web Crypto agrees with node:crypto)', async () => {
  const key = generateApiKey();
  const hash = await hashApiKey(key);
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(hash, createHash('sha256').update(key).digest('hex'));
  assert.notEqual(await hashApiKey(`${key.slice(0, -1)}x`), hash);
});

test('constantTimeEqual compares whole strings, including length', () => {
  assert.equal(constantTimeEqual('abc', 'abc'), true);
  assert.equal(constantTimeEqual('abc', 'abd'), false);
  assert.equal(constantTimeEqual('abc', 'ab'), false);
  assert.equal(constantTimeEqual('', ''), true);
  assert.equal(constantTimeEqual('a', ''), false);
});

test('secretsEqual hashes both sides first', async () => {
  assert.equal(await secretsEqual('admin-token', 'admin-token'), true);
  assert.equal(await secretsEqual('admin-token', 'admin-tokeN'), false);
  assert.equal(await secretsEqual('admin', 'admin-token'), false);
});

test('ids are prefixed and short; the hint is the last 4 characters', () => {
  assert.match(newKeyId(), /^key_[0-9A-Za-z]{16}$/);
  assert.match(newTenantId(), /^ten_[0-9A-Za-z]{16}$/);
  assert.equal(keyHint('sk-unmask-abcdWXYZ'), 'WXYZ');
});
