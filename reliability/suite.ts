/**
 * Runs the scenarios against each deployment: starts it, gives every scenario a context (the target, the
 * attacking client, tenants made through the admin API, the tally), checks the server is still alive after each
 * one (restarting serve:api after a crash so the rest can run), and stops it.
 */
import { cpus } from 'node:os';
import { createTenantWithKey } from '../backends/node/admin-client.ts';
import { Tally } from './figures.ts';
import { send } from './http.ts';
import { startTarget, type DeploymentName, type Target } from './targets.ts';
import { openTokenOracle, type TokenOracle } from './tokens.ts';
import { SCENARIOS } from './scenarios/index.ts';
import type { Scenario, ScenarioContext } from './context.ts';

export interface SuiteOptions {
  packageDir: string;
  deployments: DeploymentName[];
  /** Scenario names to run (default: all). */
  only?: string[];
  long: boolean;
  lossWindowMs: number;
  log: (line: string) => void;
}

export function machine(): string {
  const cpu = cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  return `${cpu}, ${cpus().length} vCPUs, Node ${process.versions.node}`;
}

let tenantSerial = 0;

function contextFor(
  target: Target,
  tally: Tally,
  scenario: Scenario,
  tokens: TokenOracle,
  o: SuiteOptions,
): ScenarioContext {
  return {
    target,
    long: o.long,
    tokens,
    lossWindowMs: o.lossWindowMs,
    send: async (s, opts) =>
      tally.observe(await send(target.url, s), scenario.name, opts?.cutExpected),
    async tenant(fields = {}) {
      const created = await createTenantWithKey(
        { name: `${scenario.name}-${++tenantSerial}`, ...fields },
        { url: target.url, token: target.adminToken },
      );
      return { id: created.id, key: created.key.key };
    },
    fail: (counter, count, detail) => tally.fail(scenario.name, counter, count, detail),
    measure: (name, value) => tally.measure(name, value),
    records: async (tenantId) => (await target.records()).filter((r) => r.tenantId === tenantId),
    log: (line) => o.log(`${target.name} ${scenario.name}: ${line}`),
  };
}

/** Runs the selected scenarios on one deployment. */
async function runDeployment(name: DeploymentName, o: SuiteOptions): Promise<Tally> {
  const tally = new Tally(name);
  const scenarios = SCENARIOS.filter(
    (s) => (!o.only || o.only.includes(s.name)) && (!s.only || s.only.includes(name)),
  );
  if (!scenarios.length) return tally;
  o.log(`${name}: starting`);
  const started = performance.now();
  const target = await startTarget(name, o.packageDir);
  o.log(`${name}: ready at ${target.url} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  const tokens = await openTokenOracle(o.packageDir);
  try {
    // The Worker loads its model on the first request: not inside a scenario's measurements.
    const warm = await createTenantWithKey(
      { name: 'warm-up' },
      { url: target.url, token: target.adminToken },
    );
    const first = await send(target.url, {
      path: '/v1/completions',
      key: warm.key.key,
      body: { model: target.model, prompt: 'hello', max_tokens: 8 },
    });
    if (first.status !== 200) throw new Error(`the first request answered ${first.status}`);
    for (const scenario of scenarios) {
      const t0 = performance.now();
      const before = tally.findings.reduce((s, f) => s + f.count, 0);
      const seen5xx = tally.counts.serverErrors;
      const counted5xx = await target.serverErrorCount?.().catch(() => null);
      let error: string | undefined;
      o.log(`${name} ${scenario.name}: ${scenario.summary}`);
      try {
        await scenario.run(contextFor(target, tally, scenario, tokens, o));
      } catch (e: unknown) {
        // A scenario that cannot finish is a failure of the run, reported with its reason.
        error = (e as Error).message.split('\n')[0];
      }
      // 5xx the server answered to clients that had gone (nobody saw them, the server counted them).
      if (counted5xx != null && (await target.alive())) {
        const unseen =
          (await target.serverErrorCount!()) - counted5xx - (tally.counts.serverErrors - seen5xx);
        tally.fail(
          scenario.name,
          'serverErrors',
          unseen,
          `the server counted ${unseen} more 5xx answers than clients received (its /metrics)`,
        );
      }
      if (!(await target.alive())) {
        const last = target.lastOutput().trim().split('\n').slice(-3).join(' / ');
        tally.fail(scenario.name, 'crashes', 1, `the server stopped answering /health: ${last}`);
        if (target.restart) {
          await target.kill9?.();
          await target.restart();
        }
      }
      const findings = tally.findings.reduce((s, f) => s + f.count, 0) - before;
      const seconds = (performance.now() - t0) / 1000;
      tally.scenarios.push({ name: scenario.name, findings, seconds, ...(error ? { error } : {}) });
      o.log(
        `${name} ${scenario.name}: ${error ? `ERROR ${error}` : findings ? `${findings} finding(s)` : 'ok'} (${seconds.toFixed(1)} s)`,
      );
    }
  } finally {
    await target.stop();
  }
  return tally;
}

export async function runSuite(o: SuiteOptions): Promise<Tally[]> {
  const tallies: Tally[] = [];
  for (const d of o.deployments) tallies.push(await runDeployment(d, o));
  return tallies;
}
