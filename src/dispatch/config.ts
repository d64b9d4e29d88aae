/**
 * The routing configuration (the POOL_CONFIG var: a JSON string, or a table in wrangler.toml), validated once
 * at start-up. A model with no route is served by the edge engine alone, exactly as without a config.
 *
 * @example
 * {
 *   "pools": {
 *     "gpu": { "members": ["https://gpu-pool.example.com"], "secret": "GPU_POOL_SECRET" }
 *   },
 *   "routes": {
 *     "llada2-flash": { "pool": "gpu", "degradeTo": "tiny-random" },
 *     "tiny-random": { "pool": "gpu", "edge": { "maxTokens": 1024 } }
 *   }
 * }
 */
import { z } from 'zod';

export class DispatchConfigError extends Error {
  override name = 'DispatchConfigError';
}

const ms = z.number().int().nonnegative();

export const PoolSchema = z.strictObject({
  /** "unmask": backends/gpu servers (protocol.ts). "openai": OpenAI-compatible servers such as SGLang. */
  kind: z.enum(['unmask', 'openai']).default('unmask'),
  /** Base URLs of the members (a Kubernetes Service behind an ingress is one member; list several to spread load yourself). */
  members: z.array(z.url({ protocol: /^https?$/ })).min(1),
  /** Name of the Worker secret holding the bearer token the members expect. */
  secret: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]*$/, 'an env var name such as GPU_POOL_SECRET')
    .default('GPU_POOL_SECRET'),
  /** Time allowed before the first event, retries and backoff included. */
  retryBudgetMs: ms.default(60_000),
  /** Failed attempts at most (503 "busy" answers count only against the budget). */
  maxAttempts: z.number().int().positive().default(8),
  connectTimeoutMs: ms.default(10_000),
  idleTimeoutMs: ms.default(60_000),
  /** Retry budget of fetching the model description (runs before a stream starts). */
  describeBudgetMs: ms.default(15_000),
  breaker: z
    .strictObject({
      failureThreshold: z.number().int().positive().default(3),
      coolDownMs: ms.default(10_000),
    })
    .default({ failureThreshold: 3, coolDownMs: 10_000 }),
  healthTtlMs: ms.default(5_000),
  /** Stream per-step denoising snapshots from the pool (kind "unmask"; needed for stream_options.include_denoising). */
  denoise: z.boolean().default(false),
});

export const RouteSchema = z.strictObject({
  /** The pool that serves this model. */
  pool: z.string().min(1),
  /** The model name the pool serves. Default: the route's model id. */
  upstreamModel: z.string().min(1).optional(),
  /**
   * The edge engine serves this model too (the route's id must be the edge model): requests whose prompt +
   * max_tokens fit `maxTokens` (default: the edge model's context) stay on the edge, larger ones go to the pool.
   */
  edge: z.strictObject({ maxTokens: z.number().int().positive().optional() }).optional(),
  /** The edge model that tenants with degradeToEdge get while this pool is down. */
  degradeTo: z.string().min(1).optional(),
});

export const DispatchConfigSchema = z.strictObject({
  pools: z.record(z.string().min(1), PoolSchema),
  routes: z.record(z.string().min(1), RouteSchema),
});

export type PoolConfig = z.infer<typeof PoolSchema>;
export type RouteConfig = z.infer<typeof RouteSchema>;
export type DispatchConfig = z.infer<typeof DispatchConfigSchema>;

export interface ParseConfigOptions {
  /** The model the edge engine serves (EDGE_MODEL). */
  edgeModel: string;
}

/**
 * Parses and cross-checks the config; undefined or empty → null (edge only).
 * @throws DispatchConfigError naming the offending field.
 */
export function parseDispatchConfig(
  raw: unknown,
  { edgeModel }: ParseConfigOptions,
): DispatchConfig | null {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === ''))
    return null;
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (e: unknown) {
      throw new DispatchConfigError(`POOL_CONFIG is not valid JSON: ${(e as Error).message}`);
    }
  }
  const parsed = DispatchConfigSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DispatchConfigError(
      `POOL_CONFIG.${issue.path.map(String).join('.')}: ${issue.message}`,
    );
  }
  const config = parsed.data;
  for (const [model, route] of Object.entries(config.routes)) {
    const pool = config.pools[route.pool];
    const at = `POOL_CONFIG.routes.${model}`;
    if (!pool)
      throw new DispatchConfigError(
        `${at}.pool: no pool named '${route.pool}' (pools: ${Object.keys(config.pools).join(', ') || 'none'})`,
      );
    if (route.edge && model !== edgeModel)
      throw new DispatchConfigError(
        `${at}.edge: only the edge model '${edgeModel}' can be served by the edge`,
      );
    if (route.degradeTo !== undefined && route.degradeTo !== edgeModel)
      throw new DispatchConfigError(`${at}.degradeTo: must be the edge model '${edgeModel}'`);
    if (route.edge && route.degradeTo)
      throw new DispatchConfigError(
        `${at}: a route served by the edge already falls back to it; drop degradeTo`,
      );
    if (pool.kind === 'openai' && pool.denoise)
      throw new DispatchConfigError(
        `POOL_CONFIG.pools.${route.pool}.denoise: OpenAI-compatible pools have no denoising steps`,
      );
  }
  return config;
}
