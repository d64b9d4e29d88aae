/** Tenancy implementations: the D1 tenant store, the per-tenant Durable Object limiter and the admin API. */
export { createAdminApp, type AdminAppOptions } from './admin/routes.ts';
export {
  DEFAULT_LEASE_TTL_MS,
  limitsOf,
  type LimiterLimits,
  type LimiterState,
} from './limiter/buckets.ts';
export { createD1TenantStore, type D1TenantStoreOptions } from './d1/store.ts';
export { createEdgeTenancy, type EdgeTenancy, type EdgeTenancyOptions } from './edge-store.ts';
export {
  createDurableObjectLimiter,
  LimiterUnavailableError,
  type DurableObjectLimiter,
  type DurableObjectLimiterOptions,
} from './limiter/durable-object-limiter.ts';
export {
  API_KEY_PREFIX,
  constantTimeEqual,
  generateApiKey,
  hashApiKey,
  looksLikeApiKey,
  secretsEqual,
  tenantOfApiKey,
} from './keys.ts';
export { TenantLimiterCore } from './limiter/tenant-limiter-core.ts';
export type {
  AdmitMessage,
  KeyedAdmitMessage,
  KeyMessage,
  ReleaseMessage,
  ReserveMessage,
  TenantLimiterRpc,
} from './limiter/limiter-messages.ts';
export { createMemoryLimiter, type MemoryLimiterOptions } from './limiter/memory-limiter.ts';
export {
  createMemoryTenantStore,
  type MemoryTenantStore,
  type MemoryTenantStoreOptions,
  type StoredKey,
  type TenantSnapshot,
} from './memory/store.ts';
export { formatDuration } from './limiter/rate-headers.ts';
export { applyMigrations, type Migration } from './d1/schema.ts';
export * from './types.ts';
