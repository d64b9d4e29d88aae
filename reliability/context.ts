/** What a scenario gets to work with, and what a scenario is. */
import type { Counter, Measure } from './figures.ts';
import type { Exchange, SendOptions } from './http.ts';
import type { DeploymentName, StoredUsage, Target } from './targets.ts';
import type { TokenOracle } from './tokens.ts';

/**
 * How many milliseconds of usage records `serve:api` may lose to a kill -9 (the window its README promises): a
 * response whose last byte the client got earlier than this before the kill must have its record on disk.
 */
export const USAGE_LOSS_WINDOW_MS = 100;

export interface TenantKey {
  id: string;
  key: string;
}

export interface ScenarioContext {
  target: Target;
  /** --long: more rounds, bigger attacks. */
  long: boolean;
  tokens: TokenOracle;
  /** The documented usage-loss window of serve:api after kill -9 (ms). */
  lossWindowMs: number;
  /** One request to the target; counted (tried, 5xx, cut connections unless the suite is killing the server). */
  send(o: SendOptions, opts?: { cutExpected?: boolean }): Promise<Exchange>;
  /** A tenant with these admin API fields (snake_case) and its key. */
  tenant(fields?: Record<string, unknown>): Promise<TenantKey>;
  fail(counter: Counter, count: number, detail: string): void;
  measure(name: Measure, value: number): void;
  /** The deployment's stored usage records of one tenant. */
  records(tenantId: string): Promise<StoredUsage[]>;
  log(line: string): void;
}

export interface Scenario {
  name: string;
  /** One line: what it does. */
  summary: string;
  /** Deployments it applies to (default: both). */
  only?: DeploymentName[];
  run(ctx: ScenarioContext): Promise<void>;
}
