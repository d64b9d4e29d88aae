/**
 * The Worker's fetch-only client for GPU pools (runs in workerd; no node:* imports): ModelEngines over a list
 * of pool members with per-member circuit breakers, cached health checks, retries before the first event,
 * connect and idle timeouts, and upstream cancellation on abort. Two member kinds:
 *   "unmask": Unmask GPU servers speaking src/dispatch/pool/protocol.ts (token-exact, denoising steps available);
 *   "openai": OpenAI-compatible servers such as SGLang (text deltas re-encoded to ids; main sampling knobs only).
 */
import { PoolMembers, type PoolMembersOptions } from './members.ts';
import { openAiPoolEngine, type OpenAiPoolOptions } from './openai-engine.ts';
import { unmaskPoolEngine, type UnmaskPoolOptions } from './unmask-engine.ts';
import type { PoolEngine } from './shared.ts';

export { PoolMembers, type Member, type MemberStatus, type PoolMembersOptions } from './members.ts';
export {
  CircuitBreaker,
  type BreakerOptions,
  type BreakerState,
  type BreakerTicket,
} from './breaker.ts';
export { readSse, SseParser, IdleTimeoutError, type SseFrame } from './sse.ts';
export { withRetries, type PoolRetryOptions } from './retry.ts';
export {
  unmaskPoolEngine,
  wireOptions,
  toDecodeEvent,
  type UnmaskPoolOptions,
} from './unmask-engine.ts';
export {
  openAiPoolEngine,
  completionsBody,
  COMPLETIONS_PATH,
  type OpenAiPoolOptions,
} from './openai-engine.ts';
export type { PoolEngine, PoolEngineOptions } from './shared.ts';

export type PoolKind = 'unmask' | 'openai';

export type CreatePoolEngineOptions =
  ({ kind: 'unmask' } & UnmaskPoolOptions) | ({ kind: 'openai' } & OpenAiPoolOptions);

/** One engine of either kind. */
export function createPoolEngine(opts: CreatePoolEngineOptions): PoolEngine {
  return opts.kind === 'openai' ? openAiPoolEngine(opts) : unmaskPoolEngine(opts);
}

/** Members shared by every engine (model route) of one pool, so they share breakers and health. */
export function createPoolMembers(opts: PoolMembersOptions): PoolMembers {
  return new PoolMembers(opts);
}
