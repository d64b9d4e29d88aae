/**
 * A pool model for a tenant that may degrade to the edge: when the pool is down (every member's breaker open,
 * or no member passes /health), the request is served by the edge model instead, tokenized with the edge's
 * codec. Decided once per request, before tokenization; a pool that fails after that point fails the request.
 */
import type { ModelEngine, OpenModel } from '../api/engine.ts';
import { ApiError } from '../api/errors.ts';
import type { PoolEngine } from './types.ts';

export interface DegradeEngineOptions {
  pool: PoolEngine;
  edge: ModelEngine;
  /** Called when a request degrades (for logs). */
  onDegrade?: (model: string) => void;
}

/** @example degradingEngine({ pool, edge }) */
export function degradingEngine({ pool, edge, onDegrade }: DegradeEngineOptions): ModelEngine {
  const degrade = async (): Promise<OpenModel> => {
    onDegrade?.(pool.id);
    const model = await edge.open();
    return {
      codec: model.codec,
      info: model.info,
      decode: (ids, options, context) => model.decode(ids, options, context),
      backend: edge.backend,
    };
  };
  return {
    id: pool.id,
    backend: pool.backend,
    ownedBy: pool.ownedBy,
    async open() {
      if (!(await pool.available())) return degrade();
      try {
        return await pool.open();
      } catch (e: unknown) {
        if (e instanceof ApiError && e.status === 503) return degrade();
        throw e;
      }
    },
  };
}
