/**
 * The denoising view of one generation: readouts, the active block as a row of cells (masked, committed this
 * step, committed earlier — told apart by shape and text as well as colour), the finished blocks as the answer,
 * and a replay slider once it is done. Used by the main run and by both side-by-side columns.
 */
import type { Cell, Committed, GenerationTrace } from './trace.ts';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Visible text of a token: special tokens by name, whitespace made visible. */
export function tokenLabel(text: string): string {
  const special = /^<\|(.+)\|>$/.exec(text);
  if (special) return special[1] === 'endoftext' ? 'EOS' : special[1];
  if (text === '') return '∅';
  return text.replace(/ /g, '␣').replace(/\n/g, '↵');
}

const pct = (c: number) => `${Math.round(c * 100)}%`;

/** Background by confidence: one hue, lighter for low confidence (the number and bar carry it too). */
function confidenceStyle(c: number): string {
  const lightness = Math.round(94 - 54 * Math.max(0, Math.min(1, c)));
  return `--conf:${c.toFixed(3)};background:hsl(212 65% ${lightness}%);color:${lightness < 60 ? '#fff' : '#102030'}`;
}

function cellItem(cell: Cell): HTMLLIElement {
  if (cell.state === 'masked' || !cell.token) {
    return el('li', { class: 'cell masked', 'aria-label': `position ${cell.index}: masked` }, '');
  }
  const t = cell.token;
  const fresh = cell.state === 'new';
  const li = el('li', {
    class: `cell ${fresh ? 'new' : 'committed'}`,
    style: confidenceStyle(t.confidence),
    'aria-label': `position ${cell.index}: ${JSON.stringify(t.text)}, confidence ${pct(t.confidence)}, ${fresh ? 'committed in this step' : `committed at step ${cell.step}`}`,
    title: `token ${t.token}, confidence ${t.confidence.toFixed(4)}`,
  });
  li.append(
    el('span', { class: 'tok' }, tokenLabel(t.text)),
    el('span', { class: 'conf' }, pct(t.confidence)),
    el('span', { class: 'bar', 'aria-hidden': 'true' }),
  );
  if (fresh) li.append(el('span', { class: 'mark', 'aria-hidden': 'true' }, 'new'));
  return li;
}

function chip(t: Committed): HTMLSpanElement {
  return el(
    'span',
    { class: 'chip', title: `token ${t.token}, confidence ${pct(t.confidence)}` },
    tokenLabel(t.text),
  );
}

function fmt(n: number | null, digits = 1, unit = ''): string {
  return n === null ? '–' : `${n.toFixed(digits)}${unit}`;
}

export class GenerationPanel {
  readonly root: HTMLElement;
  private trace: GenerationTrace | null = null;
  private expected: string | null = null;
  private shown = -1;
  private readonly readouts: HTMLElement;
  private readonly where: HTMLElement;
  private readonly cells: HTMLOListElement;
  private readonly answer: HTMLElement;
  private readonly result: HTMLElement;
  private readonly slider: HTMLInputElement;
  private readonly sliderText: HTMLOutputElement;

  constructor(root: HTMLElement, title: string) {
    this.root = root;
    root.classList.add('panel');
    root.dataset.state = 'idle';
    const id = root.id || `panel-${Math.random().toString(36).slice(2)}`;
    const heading = el('h3', { id: `${id}-title` }, title);
    this.readouts = el('dl', { class: 'readouts' });
    this.where = el('p', { class: 'where' }, 'No generation yet.');
    this.cells = el('ol', {
      class: 'cells',
      'aria-label': 'the active block, position by position',
    });
    this.answer = el('p', { class: 'answer', 'aria-label': 'finished blocks' });
    this.result = el('p', { class: 'result', role: 'status' });
    const replay = el('div', { class: 'replay' });
    const label = el('label', { for: `${id}-replay` }, 'Replay ');
    this.slider = el('input', {
      id: `${id}-replay`,
      type: 'range',
      min: '0',
      max: '0',
      value: '0',
      disabled: '',
      'aria-describedby': `${id}-replay-text`,
    });
    this.sliderText = el('output', { id: `${id}-replay-text`, for: `${id}-replay` });
    replay.append(label, this.slider, this.sliderText);
    this.slider.addEventListener('input', () => this.show(Number(this.slider.value)));
    root.setAttribute('aria-labelledby', heading.id);
    root.replaceChildren(
      heading,
      this.readouts,
      this.where,
      this.cells,
      this.answer,
      this.result,
      replay,
    );
    this.renderReadouts();
  }

  start(trace: GenerationTrace, expected: string | null): void {
    this.trace = trace;
    this.expected = expected;
    this.shown = -1;
    this.root.dataset.state = 'running';
    delete this.root.dataset.tokens;
    delete this.root.dataset.text;
    this.slider.disabled = true;
    this.slider.max = '0';
    this.slider.value = '0';
    this.sliderText.textContent = '';
    this.result.textContent = '';
    this.result.className = 'result';
    this.where.textContent = 'Waiting for the first step…';
    this.cells.replaceChildren();
    this.answer.replaceChildren();
    this.renderReadouts();
  }

  /** A new step arrived: show it (live). */
  update(): void {
    if (!this.trace) return;
    this.show(this.trace.steps.length - 1);
  }

  finish(): void {
    const t = this.trace;
    if (!t) return;
    this.root.dataset.state = t.error ? 'error' : 'done';
    this.root.dataset.tokens = JSON.stringify(t.tokens().map((c) => c.token));
    this.root.dataset.text = t.text;
    if (t.steps.length) {
      this.slider.max = String(t.steps.length - 1);
      this.slider.value = String(t.steps.length - 1);
      this.slider.disabled = false;
      this.show(t.steps.length - 1);
    }
    if (t.error) {
      this.result.textContent = t.error;
      this.result.className = 'result error';
      return;
    }
    const answer = t.text;
    const verdict =
      this.expected === null
        ? ''
        : answer.trim() === this.expected
          ? ' — ✓ correct'
          : ` — ✗ expected ${JSON.stringify(this.expected)}`;
    this.result.textContent = `Answer: ${JSON.stringify(answer)}${verdict} (finish: ${t.finishReason ?? '?'})`;
    this.result.className = `result ${this.expected === null ? '' : answer.trim() === this.expected ? 'ok' : 'wrong'}`;
  }

  /** Whether the last answer matched the expected one (null when there is none). */
  correct(): boolean | null {
    if (!this.trace || this.expected === null) return null;
    return this.trace.text.trim() === this.expected;
  }

  private show(k: number): void {
    const t = this.trace;
    if (!t) return;
    const view = t.view(k);
    this.renderReadouts(k);
    if (!view) return;
    this.shown = k;
    this.where.textContent = `Block ${view.block}, step ${view.step + 1} — ${view.cells.filter((c) => c.state === 'masked').length} of ${view.cells.length} positions still masked`;
    this.cells.replaceChildren(...view.cells.map(cellItem));
    this.answer.replaceChildren(...view.before.map(chip));
    if (!this.slider.disabled)
      this.sliderText.textContent = `step ${k + 1} of ${t.steps.length} (block ${view.block}, step ${view.step + 1})`;
  }

  private renderReadouts(k?: number): void {
    const r = this.trace?.readouts(k ?? this.shown);
    const items: [string, string][] = [
      ['forwards', r ? String(r.forwards) : '–'],
      ['tokens / forward', r ? fmt(r.tokensPerForward, 2) : '–'],
      ['ms / forward', r ? fmt(r.msPerForward, 1) : '–'],
      ['time to first token', r ? fmt(r.firstTokenMs, 0, ' ms') : '–'],
    ];
    this.readouts.replaceChildren(
      ...items.flatMap(([name, value]) => {
        const d = el('div');
        d.append(el('dt', {}, name), el('dd', { 'data-readout': name }, value));
        return [d];
      }),
    );
  }
}
