/**
 * `npm run test:reliability -- [--long] [--json] [--report-only] [--only a,b] [--deployments node,worker]
 * [--model DIR] [--loss-window-ms N]` (contract): starts each deployment (the Worker in workerd as `npm start` runs
 * it; `serve:api` as a child process), attacks it as hostile tenants would (reliability/scenarios/), prints the
 * figures table (or JSON with --json) on stdout and progress on stderr. Exits 1 when a must-be-zero figure is not
 * zero or a scenario could not run, unless --report-only. Both serve the tiny random model (models/tiny-random,
 * built if missing) unless --model names another: the attacks need generations that run to max_tokens (streams
 * to drop mid-way, readers to stall), and the shipped demo model ends most prompts at EOS after a token or two.
 */
import { resolve } from 'node:path';
import { intFlag, parseFlags, runMain, UsageError } from '../backends/node/cli.ts';
import { ensureTinyPackage } from '../backends/node/tiny-package.ts';
import { renderTable, toJson } from '../reliability/figures.ts';
import { SCENARIOS } from '../reliability/scenarios/index.ts';
import { DEPLOYMENTS, type DeploymentName } from '../reliability/targets.ts';
import { machine, runSuite } from '../reliability/suite.ts';
import { USAGE_LOSS_WINDOW_MS } from '../reliability/context.ts';

const list = (v: string | undefined) =>
  v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

runMain('reliability', async () => {
  const { values: v } = parseFlags(
    process.argv.slice(2),
    {
      long: { type: 'boolean' },
      json: { type: 'boolean' },
      'report-only': { type: 'boolean' },
      only: { type: 'string' },
      deployments: { type: 'string' },
      model: { type: 'string' },
      'loss-window-ms': { type: 'string' },
    },
    false,
  );
  const only = list(v.only);
  for (const s of only ?? [])
    if (!SCENARIOS.some((x) => x.name === s))
      throw new UsageError(
        `--only: unknown scenario "${s}" (known: ${SCENARIOS.map((x) => x.name).join(', ')})`,
      );
  const deployments = (list(v.deployments) ?? [...DEPLOYMENTS]) as DeploymentName[];
  for (const d of deployments)
    if (!DEPLOYMENTS.includes(d))
      throw new UsageError(`--deployments: unknown "${d}" (known: ${DEPLOYMENTS.join(', ')})`);
  const started = performance.now();
  const tallies = await runSuite({
    packageDir: v.model ? resolve(v.model) : await ensureTinyPackage({ quiet: false }),
    deployments,
    only,
    long: v.long === true,
    lossWindowMs: intFlag(v['loss-window-ms'], 'loss-window-ms', 0) ?? USAGE_LOSS_WINDOW_MS,
    log: (line) => process.stderr.write(`reliability: ${line}\n`),
  });
  const mode = v.long ? 'long' : 'default';
  const where = `${machine()}; ${mode} mode, ${((performance.now() - started) / 1000).toFixed(0)} s`;
  process.stdout.write(
    v.json
      ? `${JSON.stringify(toJson(tallies, where, mode), null, 2)}\n`
      : `${renderTable(tallies, where)}\n`,
  );
  const failed = tallies.filter((t) => t.failed()).map((t) => t.deployment);
  if (failed.length && !v['report-only'])
    throw new Error(`must-be-zero figures are not zero on ${failed.join(', ')} (see the table)`);
});
