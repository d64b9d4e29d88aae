/** Request ids: a caller's trace id is echoed and kept for the log; one that looks like a secret is neither. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { looksSecret, requestIds } from './request-id.ts';
import { generateApiKey } from '../tenants/keys.ts';

const app = new Hono();
app.use('*', requestIds());
app.get('/', (c) => c.json({ logged: c.get('clientRequestId') }));

const SECRETS = [
  generateApiKey(), // sk-unmask-…
  'sk-proj-abcdefghijklmnop',
  'adm-0123456789abcdef0123456789abcdef01',
  'ghp_0123456789abcdefghijABCDEFGHIJ012345',
  'AKIAIOSFODNN7EXAMPLE',
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig',
  'Bearer:abcdefghijklmnop',
  'Zx8Qw3Lm9Tr2Vb7Nc4Kp1Hs6Jd5Gf0Ae', // 32 random base62 characters
];
const TRACE_IDS = [
  'gw-trace.42',
  '0b6f2c2e-3a4d-4f1e-9c7b-2d5e8f1a3b6c',
  '4bf92f3577b34da6a3ce929d0e0e4736',
  '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  '01ARZ3NDEKTSV4RRFFQ69G5FAV', // a ULID
];

test('ids that look like secrets are neither echoed nor kept for the log; trace ids are', async () => {
  for (const id of SECRETS) {
    assert.ok(looksSecret(id), id);
    for (const header of ['x-request-id', 'x-client-request-id']) {
      const res = await app.request('/', { headers: { [header]: id } });
      assert.equal(res.headers.get('x-client-request-id'), null, id);
      assert.match(res.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
      assert.deepEqual(await res.json(), { logged: null });
    }
  }
  for (const id of TRACE_IDS) {
    assert.ok(!looksSecret(id), id);
    const res = await app.request('/', { headers: { 'x-request-id': id } });
    assert.equal(res.headers.get('x-client-request-id'), id);
    assert.deepEqual(await res.json(), { logged: id });
  }
});
