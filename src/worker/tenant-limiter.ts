/**
 * The TenantLimiter Durable Object class (wrangler.toml's TENANT_LIMITER binding): a `DurableObject` from
 * `cloudflare:workers`, so the Worker calls its methods over JS RPC, each delegating to the runtime-free
 * TenantLimiterCore (src/tenants/limiter), which holds the tenant's limits, keys and unwritten usage.
 */
import { DurableObject } from 'cloudflare:workers';
import type { D1Database, DurableObjectState } from '@cloudflare/workers-types';
import { TenantLimiterCore } from '../tenants/index.ts';
import type {
  AdmitMessage,
  KeyedAdmitMessage,
  KeyMessage,
  ReleaseMessage,
  ReserveMessage,
  TenantLimiterRpc,
} from '../tenants/index.ts';

interface LimiterEnv {
  DB?: D1Database;
}

export class TenantLimiter extends DurableObject<LimiterEnv> implements TenantLimiterRpc {
  readonly #core: TenantLimiterCore;

  constructor(ctx: DurableObjectState, env: LimiterEnv) {
    super(ctx, env);
    this.#core = new TenantLimiterCore(ctx, env);
  }

  admit(message: AdmitMessage) {
    return this.#core.admit(message);
  }
  reserve(message: ReserveMessage) {
    return this.#core.reserve(message);
  }
  release(message: ReleaseMessage) {
    return this.#core.release(message);
  }
  admitKey(message: KeyedAdmitMessage) {
    return this.#core.admitKey(message);
  }
  screenKey(message: KeyMessage) {
    return this.#core.screenKey(message);
  }
  authenticate(message: KeyMessage) {
    return this.#core.authenticate(message);
  }
  flushUsage() {
    return this.#core.flushUsage();
  }
  invalidate() {
    this.#core.invalidate();
  }
  override alarm() {
    return this.#core.alarm();
  }
}
