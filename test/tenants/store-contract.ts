/**
 * The TenantStore contract, run against every implementation (the D1 store in workerd, the memory store behind
 * the Node server): keys authenticate, revocation is effective on the very next request, expiry and scheduled
 * revocation (rotation) at the right instant, usage summaries per tenant. The store is driven through the admin
 * API plus two test routes: POST /test/authenticate {key, at?} and POST /test/usage <UsageRecord>.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthOutcome, UsageRecord, UsageSummary } from '../../src/api/tenancy.ts';

type Json = Record<string, unknown>;

export interface StoreHarness {
  /** Calls the app; JSON bodies are serialised, `admin: true` adds the admin bearer token. */
  json<T = Record<string, unknown>>(path: string, init?: { method?: string; body?: unknown; admin?: boolean }): Promise<{ status: number; body: T }>;
  dispose(): Promise<void> | void;
}

export function tenantStoreContract(name: string, start: () => Promise<StoreHarness>): void {
  describe(name, () => {
    let w: StoreHarness;
    before(async () => { w = await start(); });
    after(() => w?.dispose());

    const admin = async (path: string, body?: unknown, method?: string) => {
      const { status, body: json } = await w.json<Json>(path, { admin: true, body, method });
      assert.ok(status < 300, `${path} → ${status} ${JSON.stringify(json)}`);
      return json;
    };
    const newTenant = (body: Json = { name: 'acme' }) => admin('/admin/tenants', body);
    const newKey = (tenantId: unknown, body: Json = {}) => admin(`/admin/tenants/${tenantId}/keys`, body);
    const auth = async (key: unknown, at?: number) => (await w.json<AuthOutcome>('/test/authenticate', { body: { key, at } })).body;
    const reason = (outcome: AuthOutcome) => (outcome.ok ? 'ok' : outcome.reason);

    test('a new key authenticates to its tenant, with the tenant typed as the API expects', async () => {
      const tenant = await newTenant({ name: 'acme', models: ['tiny'], rpm: 10, budget_tokens: 5000, degrade_to_edge: true });
      const key = await newKey(tenant.id);
      assert.match(String(key.key), /^sk-unmask-[0-9A-Za-z]{43}$/);
      const outcome = await auth(key.key);
      assert.ok(outcome.ok);
      assert.equal(outcome.keyId, key.id);
      assert.deepEqual({ ...outcome.tenant, createdAt: 0 }, {
        id: tenant.id, name: 'acme', models: ['tiny'], rpm: 10, tpm: null, maxConcurrent: null, maxTokens: null,
        budgetTokens: 5000, budgetPeriod: 'month', degradeToEdge: true, createdAt: 0,
      });
    });

    test('missing, malformed and unknown keys are refused', async () => {
      const key = await newKey((await newTenant()).id);
      assert.equal(reason(await auth(null)), 'missing');
      assert.equal(reason(await auth('')), 'missing');
      assert.equal(reason(await auth('sk-wrong')), 'invalid');
      const flipped = String(key.key).slice(0, -1) + (String(key.key).endsWith('a') ? 'b' : 'a');
      assert.equal(reason(await auth(flipped)), 'invalid');
      assert.equal(reason(await auth(key.key)), 'ok');
    });

    test('revocation takes effect on the very next request', async () => {
      const key = await newKey((await newTenant()).id);
      assert.equal(reason(await auth(key.key)), 'ok');
      const revoked = await admin(`/admin/keys/${key.id}`, undefined, 'DELETE');
      assert.equal(revoked.status, 'revoked');
      assert.equal(reason(await auth(key.key)), 'revoked');
    });

    test('expiry: valid before expires_at, expired from that instant', async () => {
      const expiresAt = Date.now() + 3_600_000;
      const key = await newKey((await newTenant()).id, { expires_at: new Date(expiresAt).toISOString() });
      assert.equal(key.expires_at, new Date(expiresAt).toISOString());
      assert.equal(reason(await auth(key.key)), 'ok');
      assert.equal(reason(await auth(key.key, expiresAt - 1)), 'ok');
      assert.equal(reason(await auth(key.key, expiresAt)), 'expired');
    });

    test('rotation: both keys work until the chosen time, then only the new one', async () => {
      const tenant = await newTenant();
      const old = await newKey(tenant.id);
      const revokeAt = Date.now() + 600_000;
      const rotated = await admin(`/admin/keys/${old.id}/rotate`, { revoke_old_at: new Date(revokeAt).toISOString() });
      assert.notEqual(rotated.key, old.key);
      assert.equal(rotated.tenant_id, tenant.id);
      assert.deepEqual((rotated.replaced as Json).revoked_at, new Date(revokeAt).toISOString());
      assert.equal((rotated.replaced as Json).key, undefined);
      for (const key of [old.key, rotated.key]) assert.equal(reason(await auth(key)), 'ok');
      assert.equal(reason(await auth(old.key, revokeAt - 1)), 'ok');
      assert.equal(reason(await auth(old.key, revokeAt)), 'revoked');
      assert.equal(reason(await auth(rotated.key, revokeAt + 86_400_000)), 'ok');
      const outcome = await auth(rotated.key);
      assert.ok(outcome.ok && outcome.tenant.id === tenant.id && outcome.keyId === rotated.id);
    });

    test('rotation on the real clock: the old key stops 1.2 s later', async () => {
      const old = await newKey((await newTenant()).id);
      const rotated = await admin(`/admin/keys/${old.id}/rotate`, { revoke_old_at: new Date(Date.now() + 1200).toISOString() });
      assert.equal(reason(await auth(old.key)), 'ok');
      await new Promise((resolve) => setTimeout(resolve, 1300));
      assert.equal(reason(await auth(old.key)), 'revoked');
      assert.equal(reason(await auth(rotated.key)), 'ok');
    });

    test('revoking keeps the earliest time; a revoked key cannot be rotated; revoked wins over expired', async () => {
      const tenant = await newTenant();
      const key = await newKey(tenant.id, { expires_at: new Date(Date.now() + 60_000).toISOString() });
      const first = await admin(`/admin/keys/${key.id}`, undefined, 'DELETE');
      const second = await admin(`/admin/keys/${key.id}`, undefined, 'DELETE');
      assert.equal(second.revoked_at, first.revoked_at);
      assert.equal(reason(await auth(key.key, Date.now() + 120_000)), 'revoked');
      const { status, body } = await w.json<{ error: Json }>(`/admin/keys/${key.id}/rotate`, { admin: true, body: {} });
      assert.equal(status, 400);
      assert.equal(body.error.code, 'key_revoked');
    });

    test('usage: per tenant and model, budget consumption, a repeated request id counts once', async () => {
      const a = await newTenant({ name: 'a', budget_tokens: 1000, budget_period: 'day' });
      const b = await newTenant({ name: 'b' });
      const at = Date.now();
      const record = (tenantId: unknown, requestId: string, model: string, prompt: number, completion: number): UsageRecord => ({
        tenantId: String(tenantId), keyId: 'key_x', requestId, model, backend: 'edge', promptTokens: prompt,
        completionTokens: completion, status: 200, durationMs: 12.5, at,
      });
      for (const r of [record(a.id, 'r1', 'tiny', 10, 20), record(a.id, 'r2', 'tiny', 5, 5), record(a.id, 'r3', 'mini', 1, 2),
        record(a.id, 'r1', 'tiny', 10, 20), record(b.id, 'r1', 'tiny', 100, 100)]) {
        await w.json('/test/usage', { body: r });
      }
      const summary = (await w.json<Json>(`/admin/tenants/${a.id}/usage`, { admin: true })).body;
      assert.equal(summary.tenant_id, a.id);
      assert.equal(summary.requests, 3);
      assert.equal(summary.prompt_tokens, 16);
      assert.equal(summary.completion_tokens, 27);
      assert.deepEqual(summary.by_model, {
        mini: { requests: 1, prompt_tokens: 1, completion_tokens: 2 },
        tiny: { requests: 2, prompt_tokens: 15, completion_tokens: 25 },
      });
      const budget = summary.budget as Json;
      assert.equal(budget.period, 'day');
      assert.equal(budget.used_tokens, 43);
      assert.equal(budget.remaining_tokens, 957);
      const later = (await w.json<UsageSummary>(`/admin/tenants/${a.id}/usage?since=${new Date(at + 1).toISOString()}`, { admin: true })).body;
      assert.equal((later as unknown as Json).requests, 0);
      const other = (await w.json<Json>(`/admin/tenants/${b.id}/usage`, { admin: true })).body;
      assert.equal(other.requests, 1);
      assert.equal(other.budget, null);
    });
  });
}
