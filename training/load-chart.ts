/**
 * @module
 * The expert-load chart of a training run, as SVG: per MoE layer a heatmap of each expert's share of the routed
 * tokens over training (relative to an even split: white is even, red above, blue below, log scale), and one
 * line chart of the busiest expert's load ÷ the mean per layer (1 is perfect balance; top-k of E caps it at E/k).
 * Input: the run's history (state.ts), whose progress entries carry the load of the steps since the previous one.
 */
import type { HistoryEntry } from './state.ts';

const WIDTH = 760;
const LEFT = 70;
const RIGHT = 150;
const PANEL_ROW = 9;
const LINE_HEIGHT = 150;
const LINE_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Blue (½× or less) → white (even) → red (2× or more) for a load ratio. */
function ratioColor(ratio: number): string {
  const t = Math.max(-1, Math.min(1, Math.log2(Math.max(ratio, 1e-6))));
  const fade = (c: number) => Math.round(255 - (255 - c) * Math.abs(t));
  return t >= 0
    ? `rgb(${fade(178)},${fade(24)},${fade(43)})`
    : `rgb(${fade(33)},${fade(102)},${fade(172)})`;
}

export interface LoadChartOptions {
  title: string;
}

/** null when the history has no expert loads (a dense run). */
export function expertLoadSvg(history: HistoryEntry[], o: LoadChartOptions): string | null {
  const points = history.filter((h) => h.expertLoad && Object.keys(h.expertLoad).length > 0);
  if (points.length === 0) return null;
  const layers = Object.keys(points[0].expertLoad!).sort((a, b) => Number(a) - Number(b));
  const experts = points[0].expertLoad![layers[0]].length;
  const lastStep = points.at(-1)!.step;
  const plotW = WIDTH - LEFT - RIGHT;
  const x = (step: number) => LEFT + (step / lastStep) * plotW;
  const panelH = experts * PANEL_ROW;
  let y = 50;
  const out: string[] = [];
  const text = (tx: number, ty: number, s: string, extra = '', size = 12) =>
    out.push(`<text x="${tx}" y="${ty}" font-size="${size}"${extra}>${esc(s)}</text>`);
  for (const layer of layers) {
    text(
      LEFT,
      y - 6,
      `layer ${layer}: share of routed tokens per expert ÷ even share (1/${experts})`,
    );
    let prev = 0;
    for (const p of points) {
      const row = p.expertLoad![layer];
      const w = Math.max(0.5, x(p.step) - x(prev));
      for (let e = 0; e < experts; e++)
        out.push(
          `<rect x="${x(prev).toFixed(1)}" y="${y + e * PANEL_ROW}" width="${w.toFixed(1)}" height="${PANEL_ROW}" fill="${ratioColor(row[e] * experts)}"/>`,
        );
      prev = p.step;
    }
    out.push(
      `<rect x="${LEFT}" y="${y}" width="${plotW}" height="${panelH}" fill="none" stroke="#444"/>`,
    );
    for (const e of [0, experts - 1])
      text(LEFT - 6, y + e * PANEL_ROW + PANEL_ROW - 1, `expert ${e}`, ' text-anchor="end"', 10);
    y += panelH + 34;
  }
  // Colour key.
  const keyX = LEFT + plotW + 20;
  text(keyX, 52, 'load ÷ even');
  [2, Math.SQRT2, 1, Math.SQRT1_2, 0.5].forEach((r, i) => {
    out.push(
      `<rect x="${keyX}" y="${60 + i * 18}" width="14" height="14" fill="${ratioColor(r)}" stroke="#999"/>`,
    );
    text(keyX + 20, 72 + i * 18, i === 0 ? '≥ 2×' : i === 4 ? '≤ ½×' : `${r.toFixed(2)}×`);
  });
  // Busiest expert ÷ mean, per layer.
  const maxRatio = (p: HistoryEntry, layer: string) => Math.max(...p.expertLoad![layer]) * experts;
  const top = Math.max(
    2,
    Math.ceil(Math.max(...points.flatMap((p) => layers.map((l) => maxRatio(p, l))))),
  );
  const ly = (v: number) => y + LINE_HEIGHT - ((v - 1) / (top - 1)) * LINE_HEIGHT;
  text(LEFT, y - 6, 'busiest expert ÷ mean load (1 = perfectly even)');
  for (let v = 1; v <= top; v++) {
    out.push(`<line x1="${LEFT}" y1="${ly(v)}" x2="${LEFT + plotW}" y2="${ly(v)}" stroke="#eee"/>`);
    text(LEFT - 6, ly(v) + 4, `${v}×`, ' text-anchor="end"');
  }
  layers.forEach((layer, i) => {
    const color = LINE_COLORS[i % LINE_COLORS.length];
    const pts = points.map((p) => `${x(p.step).toFixed(1)},${ly(maxRatio(p, layer)).toFixed(1)}`);
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.join(' ')}"/>`,
    );
    out.push(
      `<line x1="${keyX}" y1="${y + 10 + i * 18}" x2="${keyX + 14}" y2="${y + 10 + i * 18}" stroke="${color}" stroke-width="2"/>`,
    );
    text(keyX + 20, y + 14 + i * 18, `layer ${layer}`);
  });
  out.push(
    `<rect x="${LEFT}" y="${y}" width="${plotW}" height="${LINE_HEIGHT}" fill="none" stroke="#444"/>`,
  );
  y += LINE_HEIGHT;
  for (let k = 0; k <= 4; k++) {
    const step = Math.round((lastStep * k) / 4);
    text(x(step), y + 16, String(step), ' text-anchor="middle"');
  }
  text(LEFT + plotW / 2, y + 34, 'training step', ' text-anchor="middle"', 13);
  const height = y + 46;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="24" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

/** The chart's height for a given number of MoE layers and experts (for rasterising). */
export function expertLoadHeight(layers: number, experts: number): number {
  return 50 + layers * (experts * PANEL_ROW + 34) + LINE_HEIGHT + 46;
}
