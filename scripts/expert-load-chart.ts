/**
 * Draws the per-layer expert load over a train-tiny run (training/load-chart.ts) from its checkpoint's history.
 * Usage: npm run expert-load-chart -- --run DIR --out FILE.svg|FILE.png   (.png also writes the .svg beside it)
 */
import { writeFile } from 'node:fs/promises';
import { UsageError, parseFlags, runMain } from '../backends/node/cli.ts';
import { svgToPng } from '../backends/node/svg-png.ts';
import { expertLoadHeight, expertLoadSvg } from '../training/load-chart.ts';
import { readStateHeader } from '../training/state.ts';

const USAGE = 'usage: npm run expert-load-chart -- --run CHECKPOINT_DIR --out FILE.svg|FILE.png';

runMain('expert-load-chart', async () => {
  const { values: v } = parseFlags(
    process.argv.slice(2),
    { run: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    false,
  );
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!v.run || !v.out) throw new UsageError(`--run and --out are required; ${USAGE}`);
  if (!/\.(svg|png)$/.test(v.out))
    throw new UsageError(`--out must name a .svg or .png file, got ${JSON.stringify(v.out)}`);
  const state = await readStateHeader(v.run);
  const m = state.settings.model;
  const svg = expertLoadSvg(state.history, {
    title: `Expert load over training: ${m.experts} experts, top-${m.expertsPerTok} (best ${m.topkGroup} of ${m.groups} groups), bias rate ${state.settings.biasRate}`,
  });
  if (!svg) throw new Error(`${v.run}: the run's history has no expert loads (a dense model?)`);
  const svgPath = v.out.replace(/\.png$/, '.svg');
  await writeFile(svgPath, svg);
  if (v.out.endsWith('.png'))
    svgToPng(svgPath, v.out, 760, expertLoadHeight(m.layers - m.denseLayers, m.experts));
  process.stderr.write(
    `expert-load-chart: wrote ${v.out}${v.out === svgPath ? '' : ` and ${svgPath}`}\n`,
  );
});
