/** What dispatch needs from a GPU-pool engine; src/dispatch/pool/index.ts implements it and src/index.ts wires it in. */
import type { ModelEngine } from '../api/engine.ts';
import type { PoolConfig } from './config.ts';
import type { MemberStatus } from './pool/members.ts';

/** A ModelEngine served by a GPU pool: also says whether the pool can serve now (for degrading to the edge). */
export interface PoolEngine extends ModelEngine {
  /** Whether the pool can serve now (breakers and a briefly cached /health). */
  available(): Promise<boolean>;
  /** For GET /health: per-member breaker and health state (no URLs). */
  status(): { members: MemberStatus[] };
}

/** One routed model on one pool. */
export interface PoolRoute {
  /** The model id the API exposes. */
  model: string;
  /** The model name the pool serves. */
  upstreamModel: string;
  poolName: string;
  pool: PoolConfig;
}

export type PoolEngineFactory = (route: PoolRoute) => PoolEngine;
