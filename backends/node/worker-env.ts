/**
 * The settings `npm start` hands from its environment to the Worker it runs (as vars and secrets), so the
 * documented configuration works locally as it does deployed: LOG_REQUESTS, CORS_ORIGINS, PREFIX_CACHE_MB,
 * POOL_CONFIG, and the secrets POOL_CONFIG's pools name (GPU_POOL_SECRET unless a pool names another).
 */
import { parseDispatchConfig } from '../../src/dispatch/config.ts';

const PASSED = ['LOG_REQUESTS', 'CORS_ORIGINS', 'PREFIX_CACHE_MB', 'POOL_CONFIG'] as const;

/** @throws DispatchConfigError when POOL_CONFIG is set but invalid (start fails with the Worker's own message). */
export function workerBindingsFromEnv(
  env: Record<string, string | undefined>,
  edgeModel: string,
): Record<string, string> {
  const bindings: Record<string, string> = {};
  for (const name of PASSED) {
    const value = env[name];
    if (value !== undefined && value !== '') bindings[name] = value;
  }
  const config = parseDispatchConfig(bindings.POOL_CONFIG, { edgeModel });
  const secrets = new Set(Object.values(config?.pools ?? {}).map((pool) => pool.secret));
  for (const name of secrets) {
    const value = env[name];
    if (value) bindings[name] = value;
  }
  return bindings;
}
