/**
 * CLI: npm run ep-report -- --model <package-dir> [--provider webgpu|cuda|cpu] [--json]
 * Creates the package's session on the provider and reports which nodes run there and which fall back to the
 * CPU (by op type). Exits 1 when the session cannot be created on the provider at all.
 */
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { parseFlags, runMain, UsageError } from '../backends/node/cli.ts';
import { placementReport } from '../backends/node/ep-placement.ts';
import { PROVIDERS, type Provider } from '../backends/node/open-model.ts';
import { readLocalManifest } from '../backends/node/stores/disk-package.ts';
import { sessionOptions } from '../src/ort/session-options.ts';

const USAGE = `usage: ep-report --model <package-dir> [--provider ${PROVIDERS.join('|')}] [--json]`;

runMain('ep-report', async () => {
  const { values: v } = parseFlags(
    process.argv.slice(2),
    {
      model: { type: 'string' },
      provider: { type: 'string', default: 'webgpu' },
      json: { type: 'boolean' },
      child: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    false,
  );
  if (v.help) return void console.log(USAGE);
  if (!v.model) throw new UsageError(USAGE);
  const provider = v.provider as Provider;
  if (!PROVIDERS.includes(provider))
    throw new UsageError(
      `--provider must be one of ${PROVIDERS.join('|')}, got ${JSON.stringify(v.provider)}`,
    );
  const manifest = await readLocalManifest(v.model);
  if (v.child) {
    // Verbose: onnxruntime logs the node placement only at this level.
    await ort.InferenceSession.create(`${v.model}/${manifest.graph.file}`, {
      ...sessionOptions(manifest, { provider }),
      logSeverityLevel: 0,
      logVerbosityLevel: 0,
    });
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const report = await placementReport(
    [self, '--child', '--model', v.model, '--provider', provider],
    provider,
  );
  if (v.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    for (const p of report.placements) {
      const ops = Object.entries(p.ops)
        .map(([op, n]) => `${op}×${n}`)
        .join(', ');
      console.log(`${p.provider}: ${p.nodes} nodes${ops ? ` (${ops})` : ''}`);
    }
    if (report.cpuFallbackOps.length)
      console.log(`CPU fallback: ${report.cpuFallbackOps.join(', ')}`);
  }
  if (!report.created) throw new Error(`no session on ${provider}: ${report.error}`);
});
