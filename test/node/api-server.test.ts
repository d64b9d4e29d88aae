/**
 * The API on Node (`npm run serve:api`, a real process): the same app as the Worker over onnxruntime-node and the
 * file tenant store. Tenants and keys through the admin API and the `tenant` CLI, the local decode loop's tokens
 * through the openai client, per-tenant limits and errors in the OpenAI shape, usage and keys that survive a
 * restart, and one-line failures at start-up.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { GrammarService } from '../../src/grammar/index.ts';
import { nodeXGrammar } from '../../backends/node/xgrammar-node.ts';
import { SCHEMAS, schemaValidator } from '../fixtures/schemas.ts';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { generate } from '../../src/decode/index.ts';
import { modelCodec, openModel, type OpenedModel } from '../../backends/node/open-model.ts';
import { randomIds, tinyFixture, type Fixture } from '../fixtures/export.ts';
import type { TextCodec } from '../../src/model/text-codec.ts';

const ADMIN = 'adm-node-test';

interface Running {
  url: string;
  child: ChildProcess;
  stderr: () => string;
}

/** Starts serve-api; resolves with its URL once it prints the ready line, rejects with its stderr if it exits. */
function serveApi(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/serve-api.ts', '--port', '0', ...args],
    {
      env: { ...process.env, ADMIN_TOKEN: ADMIN, POOL_CONFIG: '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /serve-api: ready: .* at (http:\/\/\S+)/.exec(stderr);
      if (m) resolve({ url: m[1], child, stderr: () => stderr });
    });
    child.on('exit', (code) =>
      reject(Object.assign(new Error(`serve-api exited ${code}: ${stderr}`), { code, stderr })),
    );
  });
}

function stop(r: Running | undefined): Promise<number | null> {
  if (!r || r.child.exitCode !== null || r.child.signalCode !== null)
    return Promise.resolve(r?.child.exitCode ?? null);
  return new Promise((resolve) => {
    r.child.once('exit', (code) => resolve(code));
    r.child.kill('SIGTERM');
  });
}

function runCli(
  args: string[],
  url: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/tenant.ts', ...args], {
      env: { ...process.env, ADMIN_TOKEN: ADMIN, UNMASK_URL: url },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the API on Node (serve:api)', () => {
  let fx: Fixture;
  let pkg: string;
  let data: string;
  let server: Running | undefined;
  let node: OpenedModel;
  let codec: TextCodec;
  let modelId: string;

  const admin = async (path: string, body?: unknown, method = body ? 'POST' : 'GET') => {
    const res = await fetch(`${server!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const clientFor = (key: string) =>
    new OpenAI({ apiKey: key, baseURL: `${server!.url}/v1`, maxRetries: 0 });

  before(async () => {
    fx = await tinyFixture({ seed: 31 });
    pkg = await fx.pkg('fp32');
    data = await mkdtemp(join(tmpdir(), 'unmask-node-api-'));
    node = await openModel(pkg);
    codec = modelCodec(node);
    modelId = node.manifest.name;
    server = await serveApi(['--model', pkg, '--data', data, '--threads', '1']);
  });
  after(async () => {
    await stop(server);
    await fx?.cleanup();
    if (data) await rm(data, { recursive: true, force: true });
  });

  test("a key from the tenant CLI gets the local decode loop's tokens; a missing or wrong key is a 401", async () => {
    const created = await runCli(['create', '--name', 'acme'], server!.url);
    assert.equal(created.code, 0, created.stderr);
    const tenantId = JSON.parse(created.stdout).id as string;
    const keyed = await runCli(['key', '--tenant', tenantId], server!.url);
    assert.equal(keyed.code, 0, keyed.stderr);
    const key = JSON.parse(keyed.stdout).key as string;
    const client = clientFor(key);
    assert.deepEqual(
      (await client.models.list()).data.map((m) => m.id),
      [modelId],
    );

    const prompt = randomIds(9, node.runner.info.vocabSize - 8, 5);
    const want = await generate(node.runner, prompt, { maxTokens: 20, threshold: 0.9 });
    const got = await client.completions.create({
      model: modelId,
      prompt,
      max_tokens: 20,
      threshold: 0.9,
    } as never);
    assert.equal(got.choices[0].text, codec.decode(want.tokens));
    const messages = [{ role: 'user' as const, content: 'hello node' }];
    const chatWant = await generate(node.runner, codec.encode(codec.applyChatTemplate(messages)), {
      maxTokens: 16,
      temperature: 0.8,
      seed: 3,
    });
    let streamed = '';
    for await (const chunk of await client.chat.completions.create({
      model: modelId,
      messages,
      max_tokens: 16,
      temperature: 0.8,
      seed: 3,
      stream: true,
    })) {
      streamed += chunk.choices[0]?.delta.content ?? '';
    }
    assert.equal(streamed, codec.decode(chatWant.tokens));

    for (const bad of ['', 'sk-unmask-not-a-real-key']) {
      const res = await fetch(`${server!.url}/v1/models`, {
        headers: bad ? { authorization: `Bearer ${bad}` } : {},
      });
      assert.equal(res.status, 401);
      const body = (await res.json()) as { error: { type: string; code: string } };
      // OpenAI's envelope for a bad key: invalid_request_error, the code says which.
      assert.equal(body.error.type, 'invalid_request_error');
      assert.equal(body.error.code, bad ? 'invalid_api_key' : 'missing_api_key');
    }
  });

  test('bad input is a 400 in the OpenAI shape; the admin API needs the admin token', async () => {
    const t = await admin('/admin/tenants', { name: 'validation' });
    const key = (await admin(`/admin/tenants/${t.body.id}/keys`, {})).body.key as string;
    const res = await fetch(`${server!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: modelId,
        messages: [{ role: 'user', content: 'x' }],
        threshold: 2,
      }),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { param: string } }).error.param, 'threshold');
    const notJson = await fetch(`${server!.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{',
    });
    assert.equal(notJson.status, 400);
    const refused = await fetch(`${server!.url}/admin/tenants`, {
      headers: { authorization: 'Bearer wrong' },
    });
    assert.equal(refused.status, 401);
  });

  test("response_format json_schema: the served output is the local loop's under the same grammar, and validates", async () => {
    const t = await admin('/admin/tenants', { name: 'structured' });
    const key = (await admin(`/admin/tenants/${t.body.id}/keys`, {})).body.key as string;
    const schema = SCHEMAS.flags;
    const response_format = {
      type: 'json_schema' as const,
      json_schema: { name: 'flags', schema, strict: true },
    };
    const messages = [{ role: 'user' as const, content: 'flags please' }];
    const grammar = new GrammarService({ runtime: nodeXGrammar });
    const constraint = await grammar.constraintFor(response_format, {
      codec,
      info: node.runner.info,
    });
    const want = await generate(node.runner, codec.encode(codec.applyChatTemplate(messages)), {
      maxTokens: 96,
      constraint: constraint!,
    });
    const got = await clientFor(key).chat.completions.create({
      model: modelId,
      messages,
      max_tokens: 96,
      response_format,
    });
    assert.equal(got.choices[0].message.content, codec.decode(want.tokens));
    if (got.choices[0].finish_reason === 'stop')
      assert.equal(schemaValidator()(schema, JSON.parse(got.choices[0].message.content!)), null);
  });

  test('per-tenant rpm: the third request in a minute is a 429 with Retry-After; another tenant is unaffected', async () => {
    const limited = await admin('/admin/tenants', { name: 'rpm', rpm: 2 });
    const key = (await admin(`/admin/tenants/${limited.body.id}/keys`, {})).body.key as string;
    const other = await admin('/admin/tenants', { name: 'free' });
    const otherKey = (await admin(`/admin/tenants/${other.body.id}/keys`, {})).body.key as string;
    const call = (k: string) =>
      fetch(`${server!.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: modelId, prompt: [4, 5], max_tokens: 2 }),
      });
    assert.equal((await call(key)).status, 200);
    assert.equal((await call(key)).status, 200);
    const third = await call(key);
    assert.equal(third.status, 429);
    assert.ok(Number(third.headers.get('retry-after')) >= 1);
    assert.equal(
      ((await third.json()) as { error: { code: string } }).error.code,
      'rate_limit_exceeded',
    );
    assert.equal((await call(otherKey)).status, 200);
  });

  test('GET /metrics (admin token): per-route statuses and per-tenant tokens equal to the metered usage', async () => {
    const t = await admin('/admin/tenants', { name: 'tenant-name-not-a-label', rpm: 1 });
    const key = (await admin(`/admin/tenants/${t.body.id}/keys`, {})).body.key as string;
    const call = () =>
      fetch(`${server!.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: modelId, prompt: [4, 5, 6], max_tokens: 5 }),
      });
    const ok = (await (await call()).json()) as {
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    assert.equal((await call()).status, 429);
    assert.equal((await fetch(`${server!.url}/metrics`)).status, 401);
    const res = await fetch(`${server!.url}/metrics`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(
      value(
        `unmask_tenant_tokens_total{tenant="${t.body.id}",model="${modelId}",kind="completion"}`,
      ),
      ok.usage.completion_tokens,
    );
    assert.equal(
      value(`unmask_tenant_tokens_total{tenant="${t.body.id}",model="${modelId}",kind="prompt"}`),
      ok.usage.prompt_tokens,
    );
    assert.equal(
      value(
        `unmask_tenant_requests_total{tenant="${t.body.id}",model="${modelId}",backend="edge-node",status="200"}`,
      ),
      1,
    );
    assert.ok(value('unmask_api_requests_total{route="/v1/completions",status="429"}') >= 1);
    assert.ok(value('unmask_api_requests_total{route="/v1/completions",status="200"}') >= 2);
    assert.ok(
      !text.includes(key) && !text.includes('tenant-name-not-a-label'),
      'no keys or tenant names in metrics',
    );
  });

  test('a dropped stream is charged what was computed (499) and frees its slot; a client leaving a non-streaming request is a 499, never a logged 500', async () => {
    const t = await admin('/admin/tenants', { name: 'dropper', max_concurrent: 1 });
    const key = (await admin(`/admin/tenants/${t.body.id}/keys`, {})).body.key as string;
    const post = (path: string, body: unknown, signal?: AbortSignal) =>
      fetch(`${server!.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
    const usage = async () =>
      (await (
        await fetch(`${server!.url}/v1/usage`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as { requests: number; completionTokens: number };
    const controller = new AbortController();
    const res = await post(
      '/v1/completions',
      { model: modelId, prompt: [4, 5, 6], max_tokens: 900, threshold: 1, stream: true },
      controller.signal,
    );
    const reader = res.body!.getReader();
    let text = '';
    while (!/"text":"[^"]+"/.test(text)) {
      const { done, value } = await reader.read();
      assert.ok(!done, `the stream ended before any text: ${text}`);
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    await new Promise((r) => setTimeout(r, 100));
    const dropped = await usage();
    assert.equal(dropped.requests, 1);
    assert.ok(
      dropped.completionTokens > 0 && dropped.completionTokens < 900,
      `a dropped stream was charged ${dropped.completionTokens}`,
    );
    assert.equal(
      (await post('/v1/completions', { model: modelId, prompt: [4], max_tokens: 2 })).status,
      200,
    );

    const leaving = new AbortController();
    const pending = post(
      '/v1/completions',
      { model: modelId, prompt: [4, 5, 6], max_tokens: 900, threshold: 1 },
      leaving.signal,
    ).catch(() => null);
    await new Promise((r) => setTimeout(r, 150));
    leaving.abort();
    await pending;
    await new Promise((r) => setTimeout(r, 100));
    const after = await usage();
    assert.equal(after.requests, 3);
    assert.ok(after.completionTokens - dropped.completionTokens - 2 < 900, 'the work stopped');
    const metrics = await (
      await fetch(`${server!.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).text();
    assert.match(
      metrics,
      /unmask_api_requests_total\{route="\/v1\/completions",status="499"\} [1-9]/,
    );
    assert.doesNotMatch(metrics, /status="500"/);
    assert.doesNotMatch(server!.stderr(), /serve-api: error/);
  });

  test('kill -9 under load loses no usage record of a request that was answered; tenants survive', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'unmask-node-kill-'));
    let victim: Running | undefined;
    try {
      victim = await serveApi(['--model', pkg, '--data', dir, '--threads', '1']);
      const url = victim.url;
      const call = (path: string, body: unknown, auth = `Bearer ${ADMIN}`) =>
        fetch(`${url}${path}`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const tenant = (await (await call('/admin/tenants', { name: 'load' })).json()) as {
        id: string;
      };
      const { key } = (await (await call(`/admin/tenants/${tenant.id}/keys`, {})).json()) as {
        key: string;
      };
      const answered: string[] = [];
      let stopping = false;
      const worker = async () => {
        while (!stopping) {
          try {
            const res = await call(
              '/v1/completions',
              { model: modelId, prompt: [4, 5, 6], max_tokens: 4, steps: 1 },
              `Bearer ${key}`,
            );
            const id = res.headers.get('x-request-id');
            await res.json(); // the whole answer arrived
            if (res.status === 200 && id) answered.push(id);
          } catch {
            return; // the server is gone
          }
        }
      };
      const workers = Array.from({ length: 8 }, worker);
      // Kill it mid-load, once a good number of requests have been answered.
      for (let waited = 0; answered.length < 60 && waited < 20_000; waited += 50)
        await new Promise((r) => setTimeout(r, 50));
      const exited = new Promise((resolve) => victim!.child.once('exit', resolve));
      victim.child.kill('SIGKILL');
      stopping = true;
      await Promise.all([...workers, exited]);
      const recorded = new Set(
        (await readFile(join(dir, 'usage.jsonl'), 'utf8'))
          .split('\n')
          .filter(Boolean)
          .map((line) => (JSON.parse(line) as { requestId: string }).requestId),
      );
      const lost = answered.filter((id) => !recorded.has(id)).length;
      t.diagnostic(
        `kill -9 after ${answered.length} answered requests: ${lost} usage records lost (${recorded.size} on disk, in-flight ones included)`,
      );
      assert.ok(answered.length >= 60, `only ${answered.length} requests answered under load`);
      assert.equal(lost, 0, `${lost} of ${answered.length} answered requests have no usage record`);
      victim = await serveApi(['--model', pkg, '--data', dir, '--threads', '1']);
      const summary = (await (
        await fetch(`${victim.url}/v1/usage`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as { requests: number };
      assert.ok(summary.requests >= answered.length, 'the key and its usage survived');
    } finally {
      await stop(victim);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('keys, usage and budgets survive a restart; SIGTERM exits 0', async () => {
    const t = await admin('/admin/tenants', {
      name: 'durable',
      budget_tokens: 100000,
      budget_period: 'day',
    });
    const key = (await admin(`/admin/tenants/${t.body.id}/keys`, {})).body.key as string;
    const client = clientFor(key);
    const r = await client.completions.create({ model: modelId, prompt: [7, 8, 9], max_tokens: 6 });
    const spent = r.usage!.total_tokens;
    assert.equal(await stop(server), 0);

    server = await serveApi(['--model', pkg, '--data', data, '--threads', '1']);
    const usage = (await (
      await fetch(`${server.url}/v1/usage`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as { requests: number; budget: { usedTokens: number } };
    assert.equal(usage.requests, 1);
    assert.equal(usage.budget.usedTokens, spent);
    assert.equal(
      (
        await clientFor(key).completions.create({
          model: modelId,
          prompt: [7, 8, 9],
          max_tokens: 2,
        })
      ).choices.length,
      1,
    );
  });

  test('start-up failures are one line and exit 1: a damaged tenants file, a missing package, a busy port', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'unmask-node-bad-'));
    try {
      await writeFile(join(broken, 'tenants.json'), '{oops');
      const port = new URL(server!.url).port;
      const cases: [string[], RegExp][] = [
        [['--model', pkg, '--data', broken], /tenants\.json is not valid JSON/],
        [['--model', join(broken, 'no-such-package'), '--data', data], /no-such-package/],
        [
          ['--model', pkg, '--data', data, '--port', port],
          /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/,
        ],
      ];
      for (const [args, re] of cases) {
        const failure = await serveApi(args).then(
          () => null,
          (e: { code: number; stderr: string }) => e,
        );
        assert.ok(failure, `${args.join(' ')} should fail`);
        assert.equal(failure.code, 1);
        const lines = failure.stderr
          .split('\n')
          .filter((l) => l.startsWith('serve-api:') && !/execution provider|ADMIN_TOKEN/.test(l));
        assert.equal(lines.length, 1, failure.stderr);
        assert.match(lines[0], re);
      }
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});
