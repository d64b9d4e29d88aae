/**
 * @module
 * The bench:quality chart as SVG: tokens per forward on x, exact match on y, one point per threshold and task
 * (low_confidence, joined in threshold order), the other commit rules as small dots, and the one-token-per-
 * forward baseline as a hollow marker. backends/node/svg-png.ts rasterises it for the README.
 */
import type { TaskSweep } from './sweep.ts';

export const CHART_WIDTH = 760;
export const CHART_HEIGHT = 460;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
const MARGIN = { left: 70, right: 180, top: 50, bottom: 60 };
/** Candidate heights of the y axis (100 % down to 100 % − span), smallest first. */
const Y_SPANS = [0.02, 0.04, 0.1, 0.2, 0.4, 1];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function qualityChartSvg(sweeps: TaskSweep[], title: string): string {
  const all = sweeps.flatMap((s) => [s.baseline, ...s.points]);
  const xMax = Math.max(2, Math.ceil(Math.max(...all.map((p) => p.tokensPerForward)) + 0.25));
  // Zoom the y axis to the points: a good model's curve lives within a few points of 100 %.
  const span = Y_SPANS.find((sp) => 1 - Math.min(...all.map((p) => p.accuracy)) <= sp * 0.8) ?? 1;
  const yMin = 1 - span;
  const yStep = span / 4;
  const W = CHART_WIDTH - MARGIN.left - MARGIN.right;
  const H = CHART_HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (v: number) => MARGIN.left + (v / xMax) * W;
  const y = (v: number) => MARGIN.top + (1 - (v - yMin) / (1 - yMin)) * H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="28" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let t = 0; t <= xMax; t++) {
    out.push(
      `<line x1="${x(t)}" y1="${MARGIN.top}" x2="${x(t)}" y2="${MARGIN.top + H}" stroke="#eee"/>`,
      `<text x="${x(t)}" y="${MARGIN.top + H + 18}" font-size="12" text-anchor="middle">${t}</text>`,
    );
  }
  for (let k = 0; k <= 4; k++) {
    const v = yMin + k * yStep;
    out.push(
      `<line x1="${MARGIN.left}" y1="${y(v)}" x2="${MARGIN.left + W}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 8}" y="${y(v) + 4}" font-size="12" text-anchor="end">${(v * 100).toFixed(yStep < 0.01 ? 1 : 0)}%</text>`,
    );
  }
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${W}" height="${H}" fill="none" stroke="#444"/>`,
    `<text x="${MARGIN.left + W / 2}" y="${CHART_HEIGHT - 18}" font-size="13" text-anchor="middle">tokens per forward (TPF)</text>`,
    `<text transform="translate(18 ${MARGIN.top + H / 2}) rotate(-90)" font-size="13" text-anchor="middle">exact match, held-out prompts</text>`,
  );
  sweeps.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const main = s.points
      .filter((p) => p.algorithm === 'low_confidence')
      .sort((a, b) => (b.threshold ?? 0) - (a.threshold ?? 0));
    for (const p of s.points.filter((q) => q.algorithm !== 'low_confidence')) {
      out.push(
        `<circle cx="${x(p.tokensPerForward)}" cy="${y(p.accuracy)}" r="2.5" fill="${color}" fill-opacity="0.35"/>`,
      );
    }
    if (main.length > 1)
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${main.map((p) => `${x(p.tokensPerForward)},${y(p.accuracy)}`).join(' ')}"/>`,
      );
    // Points of one curve often sit a few pixels apart: label only its two ends (highest and lowest threshold).
    main.forEach((p, j) => {
      out.push(
        `<circle cx="${x(p.tokensPerForward)}" cy="${y(p.accuracy)}" r="4.5" fill="${color}"/>`,
      );
      if (j === 0 || j === main.length - 1) {
        const first = j === 0;
        out.push(
          `<text x="${x(p.tokensPerForward) + (first ? -8 : 8)}" y="${y(p.accuracy) + (first ? -8 : 16)}" font-size="11" text-anchor="${first ? 'end' : 'start'}" fill="${color}">${p.threshold}</text>`,
        );
      }
    });
    const b = s.baseline;
    out.push(
      `<circle cx="${x(b.tokensPerForward)}" cy="${y(b.accuracy)}" r="5" fill="#fff" stroke="${color}" stroke-width="2"/>`,
    );
    const ly = MARGIN.top + 10 + i * 40;
    const lx = MARGIN.left + W + 16;
    out.push(
      `<circle cx="${lx + 6}" cy="${ly}" r="4.5" fill="${color}"/>`,
      `<text x="${lx + 16}" y="${ly + 4}" font-size="12">${esc(s.task)}: threshold sweep</text>`,
      `<circle cx="${lx + 6}" cy="${ly + 17}" r="5" fill="#fff" stroke="${color}" stroke-width="2"/>`,
      `<text x="${lx + 16}" y="${ly + 21}" font-size="12">${esc(s.task)}: 1 token/forward</text>`,
    );
  });
  const ny = MARGIN.top + 10 + sweeps.length * 40;
  out.push(
    `<circle cx="${MARGIN.left + W + 22}" cy="${ny}" r="2.5" fill="#555" fill-opacity="0.5"/>`,
    `<text x="${MARGIN.left + W + 32}" y="${ny + 4}" font-size="11">other commit rules</text>`,
    `<text x="${MARGIN.left + W + 16}" y="${ny + 24}" font-size="11" fill="#555">lines: low_confidence,</text>`,
    `<text x="${MARGIN.left + W + 16}" y="${ny + 40}" font-size="11" fill="#555">threshold high → low</text>`,
    `<text x="${MARGIN.left + W + 16}" y="${ny + 56}" font-size="11" fill="#555">(ends labelled)</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
