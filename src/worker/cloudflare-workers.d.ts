// The part of the Workers runtime module this code uses (its full types come with @cloudflare/workers-types'
// globals, which would clash with the DOM and Node types the rest of the project compiles against).
declare module 'cloudflare:workers' {
  import type { DurableObjectState } from '@cloudflare/workers-types';
  /** A Durable Object class whose public methods the runtime serves over JS RPC. */
  export abstract class DurableObject<Env = unknown> {
    protected ctx: DurableObjectState;
    protected env: Env;
    constructor(ctx: DurableObjectState, env: Env);
    alarm?(): void | Promise<void>;
  }
}
