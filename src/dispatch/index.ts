/** Routing between the edge engine and GPU pools: the POOL_CONFIG format and the per-request registry. */
export {
  DispatchConfigError,
  parseDispatchConfig,
  type DispatchConfig,
  type PoolConfig,
  type RouteConfig,
} from './config.ts';
export {
  dispatchRegistry,
  type DispatchRegistry,
  type DispatchRegistryOptions,
} from './registry.ts';
export { splitEngine, fitsEdge, type SplitEngineOptions } from './split-engine.ts';
export { degradingEngine, type DegradeEngineOptions } from './degrade-engine.ts';
export type { PoolEngine, PoolEngineFactory, PoolRoute } from './types.ts';
