/**
 * CLI: npm run bench:attack-costs -- [--deployments node,worker] [--repeat 10] [--json]
 *
 * What each heavy request of the reliability suite's adversarial scenario costs the server, per kind of sender:
 * a hostile tenant with quota left, a tenant whose budget is (nearly) spent, one whose requests/min are spent,
 * a key that does not exist, and a key naming the hostile tenant with a wrong secret. Each deployment is started as the suite starts it (reliability/targets.ts); each
 * request is sent `--repeat` times in a row, and the server process's CPU time (user + system, all threads, from
 * /proc) is divided by the count, next to the wall time. Where the victim's slowdown comes from: the kinds that
 * cost tens of ms each, sent back to back by closed-loop clients.
 */
import { cpus, loadavg } from 'node:os';
import { intFlag, namedItems, parseFlags, runMain } from '../backends/node/cli.ts';
import { createTenantWithKey } from '../backends/node/admin-client.ts';
import { ensureTinyPackage } from '../backends/node/tiny-package.ts';
import { attacksFor } from '../reliability/scenarios/adversarial.ts';
import { send } from '../reliability/http.ts';
import { DEPLOYMENTS, startTarget, type DeploymentName } from '../reliability/targets.ts';
import { childPids, processCpuMs } from './process-cpu.ts';

const log = (line: string) => process.stderr.write(`bench-attack-costs: ${line}\n`);

interface Row {
  deployment: DeploymentName;
  request: string;
  sender: string;
  status: number | null;
  serverCpuMs: number | null;
  wallMs: number;
}

async function measure(name: DeploymentName, packageDir: string, repeat: number): Promise<Row[]> {
  const target = await startTarget(name, packageDir);
  const rows: Row[] = [];
  try {
    const pid = childPids(name === 'node' ? 'node' : 'workerd')[0];
    const cpu = () => (pid ? processCpuMs(pid) : null);
    const auth = { url: target.url, token: target.adminToken };
    const key = async (fields: Record<string, unknown>) =>
      (await createTenantWithKey({ name: `bench-${rows.length}-${Date.now()}`, ...fields }, auth))
        .key.key;
    const model = target.model;
    const small = (k: string, maxTokens: number) =>
      send(target.url, {
        path: '/v1/completions',
        key: k,
        body: { model, prompt: 'hello', max_tokens: maxTokens },
      });
    await small(await key({}), 8); // the Worker loads its model on the first request
    // The scenario's senders, their budget and rate spent the way it spends them.
    const hostile = await createTenantWithKey(
      { name: `bench-hostile-${Date.now()}`, tpm: 10_000, max_concurrent: 4 },
      auth,
    );
    await small(hostile.key.key, 1); // the Worker then knows the tenant: its keys are checked when admitted
    const senders: Record<string, string> = {
      hostile: hostile.key.key,
      'budget-spent': await key({ budget_tokens: 60, budget_period: 'day' }),
      'rpm-spent': await key({ rpm: 1 }),
      'bad-key': `sk-unmask-${'0'.repeat(64)}`,
      // A key naming a real tenant with a wrong secret (on the Worker, checked by the tenant's object).
      'wrong-secret': `sk-unmask-${hostile.id}_${'A'.repeat(43)}`,
    };
    await small(senders['budget-spent'], 50);
    await small(senders['rpm-spent'], 1);
    const heavy = attacksFor({ target } as never).filter((a) => a.heavy);
    for (const attack of heavy) {
      for (const [sender, k] of Object.entries(senders)) {
        const cpu0 = cpu();
        const t0 = performance.now();
        let status: number | null = null;
        for (let i = 0; i < repeat; i++)
          status = (await send(target.url, { ...attack.request(k), timeoutMs: 20_000 })).status;
        const cpu1 = cpu();
        rows.push({
          deployment: name,
          request: attack.what,
          sender,
          status,
          serverCpuMs: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / repeat : null,
          wallMs: (performance.now() - t0) / repeat,
        });
        const r = rows[rows.length - 1];
        log(
          `${name} ${attack.what} / ${sender}: ${status}, ${r.serverCpuMs?.toFixed(1) ?? '?'} ms CPU, ${r.wallMs.toFixed(1)} ms wall`,
        );
      }
    }
  } finally {
    await target.stop();
  }
  return rows;
}

runMain('bench-attack-costs', async () => {
  const { values: v } = parseFlags(process.argv.slice(2), {
    deployments: { type: 'string' },
    repeat: { type: 'string' },
    json: { type: 'boolean' },
  });
  const deployments = v.deployments
    ? namedItems(v.deployments, 'deployments', 'deployment', DEPLOYMENTS, (d) => d)
    : [...DEPLOYMENTS];
  const repeat = intFlag(v.repeat, 'repeat', 1) ?? 10;
  const packageDir = await ensureTinyPackage({ quiet: false });
  const rows: Row[] = [];
  for (const d of deployments) rows.push(...(await measure(d, packageDir, repeat)));
  const machine = `${cpus()[0]?.model.trim()}, ${cpus().length} vCPUs, load ${loadavg()[0].toFixed(2)}`;
  if (v.json) {
    process.stdout.write(`${JSON.stringify({ machine, repeat, rows }, null, 2)}\n`);
    return;
  }
  const lines = [`# server CPU per request (${machine}; each sent ${repeat}× in a row)`];
  lines.push(
    '| deployment | request | sender | status | server CPU ms | wall ms |',
    '|---|---|---|---|---|---|',
  );
  for (const r of rows)
    lines.push(
      `| ${r.deployment} | ${r.request} | ${r.sender} | ${r.status ?? '-'} | ${r.serverCpuMs?.toFixed(1) ?? '?'} | ${r.wallMs.toFixed(1)} |`,
    );
  process.stdout.write(`${lines.join('\n')}\n`);
});
