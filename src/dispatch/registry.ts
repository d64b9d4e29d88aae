/**
 * The EngineRegistry the Worker serves from: the edge engine, plus one engine per configured route, picked
 * per request (the tenant decides whether a down pool degrades to the edge).
 */
import type { EngineRegistry, ModelEngine, RouteContext } from '../api/engine.ts';
import type { DispatchConfig } from './config.ts';
import { degradingEngine } from './degrade-engine.ts';
import { splitEngine } from './split-engine.ts';
import type { PoolEngine, PoolEngineFactory } from './types.ts';

export interface DispatchRegistryOptions {
  config: DispatchConfig;
  /** The in-process edge engine (serves its own id, and stands in for degraded requests). */
  edge: ModelEngine;
  /** Builds the engine of one routed model on one pool. */
  poolEngine: PoolEngineFactory;
  onDegrade?: (model: string) => void;
}

export interface DispatchRegistry extends EngineRegistry {
  /** Per pool, its members' breaker and health state (for GET /health). */
  pools(): Record<string, { members: unknown[] }>;
}

/** @example const engines = dispatchRegistry({ config, edge, poolEngine: (r) => createPoolEngine(...) }) */
export function dispatchRegistry({
  config,
  edge,
  poolEngine,
  onDegrade,
}: DispatchRegistryOptions): DispatchRegistry {
  const byModel = new Map<string, ModelEngine>([[edge.id, edge]]);
  const degrading = new Map<string, ModelEngine>();
  const byPool = new Map<string, PoolEngine>();
  for (const [model, route] of Object.entries(config.routes)) {
    const pool = poolEngine({
      model,
      upstreamModel: route.upstreamModel ?? model,
      poolName: route.pool,
      pool: config.pools[route.pool],
    });
    if (!byPool.has(route.pool)) byPool.set(route.pool, pool);
    if (route.edge) {
      byModel.set(model, splitEngine({ edge, pool, edgeMaxTokens: route.edge.maxTokens }));
    } else {
      byModel.set(model, pool);
      if (route.degradeTo) degrading.set(model, degradingEngine({ pool, edge, onDegrade }));
    }
  }
  return {
    list: () => [...byModel.values()],
    get(model: string, ctx?: RouteContext) {
      if (ctx?.tenant.degradeToEdge) {
        const d = degrading.get(model);
        if (d) return d;
      }
      return byModel.get(model);
    },
    pools: () => Object.fromEntries([...byPool].map(([name, p]) => [name, p.status()])),
  };
}
