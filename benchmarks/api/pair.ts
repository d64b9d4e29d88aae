/**
 * One Worker for bench:api: started in workerd with a tenant and a key, it answers paired requests —
 * POST /v1/completions with the key vs POST /internal/generate (the bare backend call), same prompt ids, max_tokens
 * 1 — and keeps each pair's latencies with the API's own account of them (its server-timing header). Each pair
 * also makes a second bare call: bare vs bare is the null pair, whose spread is what this machine's noise (other
 * processes, GC, the scheduler) alone puts into a paired difference.
 */
import {
  seedPackage,
  startWorker,
  TEST_ADMIN_TOKEN,
  type BuiltWorker,
} from '../../backends/node/worker-harness.ts';
import { parseServerTiming } from '../../src/api/serving/server-timing.ts';

export interface PairSamples {
  apiMs: number[];
  bareMs: number[];
  /** A second bare call, for the null pair (bare vs bare). */
  bare2Ms: number[];
  /** The admission round trip and the generation, per pair, as the Worker timed them. */
  admissionMs: number[];
  modelMs: number[];
}

export interface ApiPair {
  samples: PairSamples;
  warmUp(pairs: number): Promise<void>;
  /** One pair (and the null pair's second bare call); `apiFirst` says which request goes first. */
  measure(apiFirst: boolean): Promise<void>;
  /** Requests/s on /v1/completions with `concurrency` clients for `seconds`. */
  throughput(concurrency: number, seconds: number): Promise<number>;
  dispose(): Promise<void>;
}

export async function startApiPair(
  built: BuiltWorker,
  packageDir: string,
  ids: number[],
  options: { port: number; persistDir?: string },
): Promise<ApiPair> {
  const worker = await startWorker(built, {
    edgeModel: 'tiny',
    listen: { host: '127.0.0.1', port: options.port },
    ...(options.persistDir ? { persistDir: options.persistDir } : {}),
  });
  try {
    await seedPackage(worker, packageDir);
    const base = `http://127.0.0.1:${options.port}`;
    const adminHeaders = {
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
      'content-type': 'application/json',
    };
    const post = async (path: string, body: unknown) =>
      (await fetch(`${base}${path}`, {
        method: 'POST',
        headers: adminHeaders,
        body: JSON.stringify(body),
      }).then((r) => r.json())) as Record<string, string>;
    const tenant = await post('/admin/tenants', {
      name: 'bench',
      rpm: 1_000_000,
      tpm: 100_000_000,
      max_concurrent: 1000,
    });
    const { key } = await post(`/admin/tenants/${tenant.id}/keys`, {});
    const api = () =>
      fetch(`${base}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny', prompt: ids, max_tokens: 1 }),
      });
    const bare = () =>
      fetch(`${base}/internal/generate`, {
        method: 'POST',
        headers: adminHeaders,
        body: JSON.stringify({ prompt_ids: ids, max_tokens: 1 }),
      });
    const timed = async (call: () => Promise<Response>) => {
      const t0 = performance.now();
      const res = await call();
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      return {
        ms: performance.now() - t0,
        timing: parseServerTiming(res.headers.get('server-timing')),
      };
    };
    const samples: PairSamples = {
      apiMs: [],
      bareMs: [],
      bare2Ms: [],
      admissionMs: [],
      modelMs: [],
    };
    return {
      samples,
      async warmUp(pairs) {
        for (let i = 0; i < pairs; i++) {
          await timed(api);
          await timed(bare);
        }
      },
      async measure(apiFirst) {
        let a: Awaited<ReturnType<typeof timed>>;
        let b: typeof a;
        if (apiFirst) {
          a = await timed(api);
          b = await timed(bare);
        } else {
          b = await timed(bare);
          a = await timed(api);
        }
        // The null pair's second call sits on the other side of the bare one, as the api call does.
        const b2 = await timed(bare);
        samples.apiMs.push(a.ms);
        samples.bareMs.push(b.ms);
        samples.bare2Ms.push(b2.ms);
        samples.admissionMs.push(a.timing.admission ?? 0);
        samples.modelMs.push(a.timing.model ?? 0);
      },
      async throughput(concurrency, seconds) {
        let done = 0;
        const until = performance.now() + seconds * 1000;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (performance.now() < until) {
              await timed(api);
              done++;
            }
          }),
        );
        return done / seconds;
      },
      dispose: () => worker.dispose(),
    };
  } catch (e) {
    await worker.dispose();
    throw e;
  }
}
