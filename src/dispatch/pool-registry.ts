/**
 * The engines an API process serves: the edge model alone, or the edge model plus the GPU-pool routes of
 * POOL_CONFIG (src/dispatch). Shared by the Worker entry and the Node API server. Fetch-only: runs in workerd.
 */
import { staticRegistry, type EngineRegistry, type ModelEngine } from '../api/engine.ts';
import {
  DispatchConfigError,
  dispatchRegistry,
  parseDispatchConfig,
  type DispatchRegistry,
  type PoolEngineFactory,
} from './index.ts';
import { PoolMembers } from './pool/members.ts';
import { openAiPoolEngine } from './pool/openai-engine.ts';
import { unmaskPoolEngine } from './pool/unmask-engine.ts';

export interface PoolRegistryOptions {
  /** POOL_CONFIG: a JSON string or an object (a wrangler.toml table); unset = edge only. */
  poolConfig: unknown;
  /** Where each pool's `secret` (a variable name) is looked up: the Worker env, or process.env. */
  secrets: Record<string, unknown>;
  edge: ModelEngine;
  /** Called when a route falls back to the edge model because its pool is down. */
  onDegrade?: (model: string) => void;
}

/** Config errors (bad POOL_CONFIG, a missing secret) throw DispatchConfigError here, at start-up. */
export function poolRegistry({
  poolConfig,
  secrets,
  edge,
  onDegrade,
}: PoolRegistryOptions): EngineRegistry | DispatchRegistry {
  const config = parseDispatchConfig(poolConfig, { edgeModel: edge.id });
  if (!config) return staticRegistry([edge]);
  for (const [name, pool] of Object.entries(config.pools)) {
    if (typeof secrets[pool.secret] !== 'string' || !secrets[pool.secret])
      throw new DispatchConfigError(`pool '${name}' needs the secret ${pool.secret}`);
  }
  // One member set per pool: routes on the same pool share breakers and health.
  const members = new Map<string, PoolMembers>();
  const poolEngine: PoolEngineFactory = ({ model, upstreamModel, poolName, pool }) => {
    if (!members.has(poolName)) {
      members.set(
        poolName,
        new PoolMembers({
          urls: pool.members,
          breaker: pool.breaker,
          healthTtlMs: pool.healthTtlMs,
        }),
      );
    }
    const common = {
      id: model,
      upstreamModel,
      members: members.get(poolName)!,
      secret: secrets[pool.secret] as string,
      idleTimeoutMs: pool.idleTimeoutMs,
      retry: {
        budgetMs: pool.retryBudgetMs,
        maxAttempts: pool.maxAttempts,
        connectTimeoutMs: pool.connectTimeoutMs,
      },
    };
    // OpenAI-compatible servers do not serve a tokenizer: they share the edge model's.
    return pool.kind === 'openai'
      ? openAiPoolEngine({ ...common, model: () => edge.open() })
      : unmaskPoolEngine({
          ...common,
          describeBudgetMs: pool.describeBudgetMs,
          denoise: pool.denoise,
        });
  };
  return dispatchRegistry({ config, edge, poolEngine, onDegrade });
}
