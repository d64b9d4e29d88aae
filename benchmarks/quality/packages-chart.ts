/**
 * @module
 * The bench:quality chart for several packages of one model (e.g. fp32, fp16, int8, int4): one panel per task,
 * tokens per forward on x, exact match on y, one low_confidence curve per package (threshold high → low), the
 * one-token-per-forward baseline as a hollow marker. Rasterised for the README like chart.ts.
 */
import type { PackageSweep } from './report.ts';
import type { SweepPoint } from './sweep.ts';

const COLORS = ['#222222', '#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#ff7f0e', '#8c564b'];
const DASHES = ['', '6 3', '2 2', '8 3 2 3', '4 4', '1 3', '10 4'];
export const PANEL_WIDTH = 330;
const PANEL_HEIGHT = 300;
const MARGIN = { left: 62, right: 18, top: 76, bottom: 52 };
const LEGEND_ROW = 18;
/** Rough width of one 11 px character, to lay legend entries out in rows. */
const CHAR_PX = 6.6;
const Y_SPANS = [0.02, 0.04, 0.1, 0.2, 0.4, 1];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function legendLabel(p: PackageSweep): string {
  return `${p.name} (${(p.bytes / 2 ** 20).toFixed(1)} MiB)`;
}

/** Legend entries as rows that fit the width: [x, entry index][] per row. */
function legendRows(packages: PackageSweep[], width: number): [number, number][][] {
  const rows: [number, number][][] = [[]];
  let x = 16;
  packages.forEach((p, i) => {
    const w = 44 + CHAR_PX * legendLabel(p).length;
    if (x + w > width - 16 && rows[rows.length - 1].length) {
      rows.push([]);
      x = 16;
    }
    rows[rows.length - 1].push([x, i]);
    x += w;
  });
  return rows;
}

export function packagesChartSize(
  tasks: number,
  packages: PackageSweep[] = [],
): { width: number; height: number } {
  const width = Math.max(2, tasks) * PANEL_WIDTH;
  const rows = legendRows(packages, width).length + 1;
  return { width, height: MARGIN.top + PANEL_HEIGHT + MARGIN.bottom + rows * LEGEND_ROW };
}

/** `title` in bold, `subtitle` (settings) below it. */
export function packagesChartSvg(
  packages: PackageSweep[],
  title: string,
  subtitle: string,
): string {
  const tasks = packages[0].sweeps.map((s) => s.task);
  const { width, height } = packagesChartSize(tasks.length, packages);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="16" y="42" font-size="12" fill="#444">${esc(subtitle)}</text>`,
  ];
  const curve = (pts: SweepPoint[]) =>
    pts
      .filter((p) => p.algorithm === 'low_confidence' && p.threshold !== null)
      .sort((a, b) => (b.threshold ?? 0) - (a.threshold ?? 0));
  tasks.forEach((task, ti) => {
    const all = packages.flatMap((p) => [p.sweeps[ti].baseline, ...curve(p.sweeps[ti].points)]);
    const xMax = Math.max(2, Math.ceil(Math.max(...all.map((p) => p.tokensPerForward)) + 0.25));
    const span = Y_SPANS.find((sp) => 1 - Math.min(...all.map((p) => p.accuracy)) <= sp * 0.8) ?? 1;
    const yMin = 1 - span;
    const x0 = ti * PANEL_WIDTH + MARGIN.left;
    const W = PANEL_WIDTH - MARGIN.left - MARGIN.right;
    const H = PANEL_HEIGHT;
    const x = (v: number) => x0 + (v / xMax) * W;
    const y = (v: number) => MARGIN.top + (1 - (v - yMin) / span) * H;
    out.push(
      `<text x="${x0 + W / 2}" y="${MARGIN.top - 10}" font-size="13" font-weight="bold" text-anchor="middle">${esc(task)}</text>`,
    );
    for (let t = 0; t <= xMax; t++)
      out.push(
        `<line x1="${x(t)}" y1="${MARGIN.top}" x2="${x(t)}" y2="${MARGIN.top + H}" stroke="#eee"/>`,
        `<text x="${x(t)}" y="${MARGIN.top + H + 16}" font-size="11" text-anchor="middle">${t}</text>`,
      );
    for (let k = 0; k <= 4; k++) {
      const v = yMin + (k * span) / 4;
      out.push(
        `<line x1="${x0}" y1="${y(v)}" x2="${x0 + W}" y2="${y(v)}" stroke="#eee"/>`,
        `<text x="${x0 - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${(v * 100).toFixed(span < 0.04 ? 1 : 0)}%</text>`,
      );
    }
    out.push(
      `<rect x="${x0}" y="${MARGIN.top}" width="${W}" height="${H}" fill="none" stroke="#444"/>`,
      `<text x="${x0 + W / 2}" y="${MARGIN.top + H + 34}" font-size="12" text-anchor="middle">tokens per forward</text>`,
    );
    if (ti === 0)
      out.push(
        `<text transform="translate(16 ${MARGIN.top + H / 2}) rotate(-90)" font-size="12" text-anchor="middle">exact match, held-out prompts</text>`,
      );
    packages.forEach((p, pi) => {
      const color = COLORS[pi % COLORS.length];
      const main = curve(p.sweeps[ti].points);
      if (main.length > 1)
        out.push(
          `<polyline fill="none" stroke="${color}" stroke-width="2" stroke-dasharray="${DASHES[pi % DASHES.length]}" points="${main.map((q) => `${x(q.tokensPerForward)},${y(q.accuracy)}`).join(' ')}"/>`,
        );
      for (const q of main)
        out.push(
          `<circle cx="${x(q.tokensPerForward)}" cy="${y(q.accuracy)}" r="3.5" fill="${color}"/>`,
        );
      const b = p.sweeps[ti].baseline;
      out.push(
        `<circle cx="${x(b.tokensPerForward)}" cy="${y(b.accuracy)}" r="4.5" fill="#fff" stroke="${color}" stroke-width="1.5"/>`,
      );
    });
  });
  const rows = legendRows(packages, width);
  const top = MARGIN.top + PANEL_HEIGHT + MARGIN.bottom;
  rows.forEach((row, r) => {
    const ly = top + r * LEGEND_ROW + 8;
    for (const [lx, pi] of row) {
      const color = COLORS[pi % COLORS.length];
      out.push(
        `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 26}" y2="${ly - 4}" stroke="${color}" stroke-width="2" stroke-dasharray="${DASHES[pi % DASHES.length]}"/>`,
        `<text x="${lx + 32}" y="${ly}" font-size="11">${esc(legendLabel(packages[pi]))}</text>`,
      );
    }
  });
  out.push(
    `<text x="16" y="${top + rows.length * LEGEND_ROW + 8}" font-size="11" fill="#555">lines: low_confidence, threshold high → low; hollow: 1 token per forward</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
