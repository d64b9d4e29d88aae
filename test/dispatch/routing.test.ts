/** The routing policy: POOL_CONFIG validation, which engine a model and tenant get, size routing, degrading. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  DispatchConfigError,
  dispatchRegistry,
  fitsEdge,
  parseDispatchConfig,
  splitEngine,
  degradingEngine,
  type PoolEngine,
} from '../../src/dispatch/index.ts';
import type { ModelEngine, OpenModel } from '../../src/api/engine.ts';
import { ApiError } from '../../src/api/errors.ts';
import { openTenant } from '../../src/api/single-tenant.ts';
import type { DecodeEvent, RunnerInfo } from '../../src/decode/index.ts';
import type { TextCodec } from '../../src/model/text-codec.ts';

const EDGE_INFO: RunnerInfo = {
  vocabSize: 100,
  topK: 4,
  maskId: 99,
  eosId: 98,
  maxPositions: 64,
  blockLength: 8,
};
const POOL_INFO: RunnerInfo = { ...EDGE_INFO, maxPositions: 4096 };

/** An engine whose decode yields one block naming who ran it. */
function fakeModel(name: string, info: RunnerInfo): OpenModel {
  return {
    codec: { encode: () => [] } as unknown as TextCodec,
    info,
    async *decode(): AsyncGenerator<DecodeEvent> {
      yield { type: 'block', block: 0, offset: 0, tokens: [name.length] };
    },
  };
}
const edgeEngine = (info = EDGE_INFO): ModelEngine & { opens: number } => {
  const e = {
    id: 'tiny',
    backend: 'edge-wasm',
    ownedBy: 'unmask',
    opens: 0,
    open: async () => {
      e.opens++;
      return fakeModel('edge', info);
    },
  };
  return e;
};
function poolEngine(
  id: string,
  {
    up = true,
    info = POOL_INFO,
    openError,
  }: { up?: boolean; info?: RunnerInfo; openError?: unknown } = {},
): PoolEngine & { opens: number } {
  const e = {
    id,
    backend: 'gpu-pool',
    ownedBy: 'unmask',
    opens: 0,
    open: async () => {
      e.opens++;
      if (openError) throw openError;
      return fakeModel('pool!', info);
    },
    available: async () => up,
    status: () => ({ members: [] }),
  };
  return e;
}
const tokensOf = async (model: OpenModel, prompt: number[], maxTokens: number) => {
  const out: number[] = [];
  for await (const e of model.decode(prompt, { maxTokens }))
    if (e.type === 'block') out.push(...e.tokens);
  return out;
};
const EDGE = [4];
const POOL = [5];

describe('POOL_CONFIG', () => {
  const base = {
    pools: { gpu: { members: ['https://gpu.example.com'] } },
    routes: { big: { pool: 'gpu' } },
  };

  test('unset or empty → edge only; defaults filled in', () => {
    assert.equal(parseDispatchConfig(undefined, { edgeModel: 'tiny' }), null);
    assert.equal(parseDispatchConfig('  ', { edgeModel: 'tiny' }), null);
    const c = parseDispatchConfig(JSON.stringify(base), { edgeModel: 'tiny' })!;
    assert.deepEqual(c.pools.gpu, {
      kind: 'unmask',
      members: ['https://gpu.example.com'],
      secret: 'GPU_POOL_SECRET',
      retryBudgetMs: 60_000,
      maxAttempts: 8,
      connectTimeoutMs: 10_000,
      idleTimeoutMs: 60_000,
      describeBudgetMs: 15_000,
      breaker: { failureThreshold: 3, coolDownMs: 10_000 },
      healthTtlMs: 5_000,
      denoise: false,
    });
    assert.deepEqual(
      parseDispatchConfig(base, { edgeModel: 'tiny' }),
      c,
      'a wrangler.toml table works too',
    );
  });

  test('the commented example in wrangler.toml is valid', async () => {
    const toml = await readFile('wrangler.toml', 'utf8');
    const m = /^# POOL_CONFIG = '''\n([\s\S]*?)^# '''$/m.exec(toml);
    assert.ok(m, 'wrangler.toml documents POOL_CONFIG');
    const json = m[1]
      .split('\n')
      .map((l) => l.replace(/^# ?/, ''))
      .join('\n');
    const edgeModel = /^EDGE_MODEL = "([^"]+)"/m.exec(toml)![1];
    const c = parseDispatchConfig(json, { edgeModel })!;
    assert.ok(Object.keys(c.routes).length > 0);
  });

  test('errors name the field', () => {
    const bad = (raw: unknown, pattern: RegExp) =>
      assert.throws(
        () => parseDispatchConfig(raw, { edgeModel: 'tiny' }),
        (e: unknown) => e instanceof DispatchConfigError && pattern.test(e.message),
      );
    bad('{not json', /not valid JSON/);
    bad({ ...base, pools: { gpu: { members: [] } } }, /pools\.gpu\.members/);
    bad({ ...base, pools: { gpu: { members: ['ftp://x'] } } }, /pools\.gpu\.members\.0/);
    bad(
      { ...base, pools: { gpu: { members: ['https://x'], secret: 'lower' } } },
      /pools\.gpu\.secret/,
    );
    bad({ ...base, pools: { gpu: { members: ['https://x'], typo: 1 } } }, /pools\.gpu/);
    bad({ ...base, routes: { big: { pool: 'nope' } } }, /routes\.big\.pool: no pool named 'nope'/);
    bad(
      { ...base, routes: { big: { pool: 'gpu', edge: {} } } },
      /routes\.big\.edge: only the edge model 'tiny'/,
    );
    bad(
      { ...base, routes: { big: { pool: 'gpu', degradeTo: 'other' } } },
      /degradeTo: must be the edge model 'tiny'/,
    );
    bad(
      { ...base, routes: { tiny: { pool: 'gpu', edge: {}, degradeTo: 'tiny' } } },
      /drop degradeTo/,
    );
    bad(
      {
        pools: { gpu: { kind: 'openai', members: ['https://x'], denoise: true } },
        routes: { big: { pool: 'gpu' } },
      },
      /no denoising steps/,
    );
  });
});

describe('dispatch registry', () => {
  const config = parseDispatchConfig(
    {
      pools: { gpu: { members: ['https://gpu.example.com'] } },
      routes: {
        big: { pool: 'gpu', degradeTo: 'tiny' },
        bigger: { pool: 'gpu', upstreamModel: 'llada2-flash' },
        tiny: { pool: 'gpu', upstreamModel: 'big', edge: { maxTokens: 32 } },
      },
    },
    { edgeModel: 'tiny' },
  )!;

  test('lists the edge and every route; routes of one pool are built with their upstream names', () => {
    const built: string[] = [];
    const reg = dispatchRegistry({
      config,
      edge: edgeEngine(),
      poolEngine: (r) => {
        built.push(`${r.model}→${r.upstreamModel}@${r.poolName}`);
        return poolEngine(r.model);
      },
    });
    assert.deepEqual(built, ['big→big@gpu', 'bigger→llada2-flash@gpu', 'tiny→big@gpu']);
    assert.deepEqual(
      reg.list().map((e) => `${e.id}:${e.backend}`),
      ['tiny:edge-wasm+gpu-pool', 'big:gpu-pool', 'bigger:gpu-pool'],
    );
    assert.equal(reg.get('nope'), undefined);
    assert.deepEqual(Object.keys(reg.pools()), ['gpu']);
  });

  test('a degradeToEdge tenant gets the degrading engine only where the route allows it', async () => {
    const pools = new Map<string, PoolEngine>();
    const reg = dispatchRegistry({
      config,
      edge: edgeEngine(),
      poolEngine: (r) => {
        const p = poolEngine(r.model, { up: false });
        pools.set(r.model, p);
        return p;
      },
    });
    const plain = openTenant('a');
    const degrade = openTenant('b', { degradeToEdge: true });
    assert.equal(reg.get('big', { tenant: plain }), pools.get('big'));
    assert.equal(
      reg.get('bigger', { tenant: degrade }),
      pools.get('bigger'),
      'no degradeTo on this route',
    );
    const d = reg.get('big', { tenant: degrade })!;
    assert.notEqual(d, pools.get('big'));
    assert.equal(d.id, 'big');
    const model = await d.open();
    assert.equal(model.backend, 'edge-wasm');
    assert.deepEqual(await tokensOf(model, [1], 4), EDGE);
  });
});

describe('degrading engine', () => {
  test('pool up → pool; down → edge; a 503 at open → edge; other errors surface', async () => {
    const edge = edgeEngine();
    assert.equal(
      (await degradingEngine({ pool: poolEngine('big'), edge }).open()).backend,
      undefined,
    );
    let degraded = 0;
    const down = degradingEngine({
      pool: poolEngine('big', { up: false }),
      edge,
      onDegrade: () => degraded++,
    });
    assert.equal((await down.open()).backend, 'edge-wasm');
    assert.equal(degraded, 1);
    const busy = new ApiError(503, 'service_unavailable_error', 'x', {
      code: 'backend_unavailable',
    });
    assert.equal(
      (await degradingEngine({ pool: poolEngine('big', { openError: busy }), edge }).open())
        .backend,
      'edge-wasm',
    );
    const broken = new ApiError(502, 'server_error', 'x');
    await assert.rejects(
      degradingEngine({ pool: poolEngine('big', { openError: broken }), edge }).open(),
      (e: unknown) => e === broken,
    );
  });
});

describe('split engine (edge first, pool for what the edge cannot do)', () => {
  test('fitsEdge: prompt + max_tokens within the limit and a canvas the edge can hold', () => {
    assert.equal(fitsEdge(EDGE_INFO, 32, [1, 2], { maxTokens: 30 }), true);
    assert.equal(fitsEdge(EDGE_INFO, 32, [1, 2], { maxTokens: 31 }), false);
    assert.equal(fitsEdge(EDGE_INFO, 1000, new Array(60).fill(1), { maxTokens: 4 }), true);
    assert.equal(
      fitsEdge(EDGE_INFO, 1000, new Array(60).fill(1), { maxTokens: 8 }),
      false,
      'past the edge context',
    );
    assert.equal(
      fitsEdge(EDGE_INFO, 1000, [99], { maxTokens: 4 }),
      false,
      'invalid for the edge → let the pool judge',
    );
  });

  test('routes per generation; advertises the pool context; reports who served', async () => {
    const pool = poolEngine('tiny');
    const model = await splitEngine({ edge: edgeEngine(), pool, edgeMaxTokens: 32 }).open();
    assert.equal(model.info.maxPositions, 4096);
    assert.deepEqual(await tokensOf(model, [1, 2], 16), EDGE);
    assert.equal(model.backend, 'edge-wasm');
    assert.deepEqual(await tokensOf(model, [1, 2], 40), POOL);
    assert.equal(model.backend, 'gpu-pool');
  });

  test('a slow or down pool does not hold up the edge; opens skip it for a while; long requests still try it', async () => {
    let now = 0;
    const hanging = {
      ...poolEngine('tiny'),
      opens: 0,
      open: () => {
        hanging.opens++;
        return new Promise<OpenModel>(() => {});
      },
    };
    const split = splitEngine({
      edge: edgeEngine(),
      pool: hanging,
      describeWaitMs: 30,
      describeRetryMs: 1000,
      now: () => now,
    });
    const t0 = Date.now();
    const model = await split.open();
    assert.ok(Date.now() - t0 < 500);
    assert.equal(model.info.maxPositions, 64, 'the edge context until the pool is known');
    await split.open();
    assert.equal(hanging.opens, 1, 'skipped within describeRetryMs');
    now = 1000;
    await split.open();
    assert.equal(hanging.opens, 2);
    const down = poolEngine('tiny', {
      openError: new ApiError(503, 'service_unavailable_error', 'down'),
    });
    const m2 = await splitEngine({ edge: edgeEngine(), pool: down, edgeMaxTokens: 8 }).open();
    assert.deepEqual(await tokensOf(m2, [1], 4), EDGE);
    await assert.rejects(
      tokensOf(m2, [1], 40),
      (e: unknown) => e instanceof ApiError && e.status === 503,
    );
  });

  test('a pool serving a different model is refused', async () => {
    const other = poolEngine('tiny', { info: { ...POOL_INFO, vocabSize: 5000 } });
    await assert.rejects(
      splitEngine({ edge: edgeEngine(), pool: other }).open(),
      DispatchConfigError,
    );
  });
});
