/**
 * The playground page (served at `/`): the key, the models it may use, a prompt with the demo tasks as examples,
 * the decoding knobs, the denoising view, "Run in my browser", and the side-by-side comparison. Plain DOM, no
 * framework; the page's markup is index.html.
 */
import { ApiCallError, completeChat, keyStore, listModels, streamChat } from './api-client.ts';
import {
  generateInBrowser,
  loadBrowserModel,
  webgpuAvailable,
  type BrowserModel,
} from './browser-model.ts';
import { DEFAULT_KNOBS, STRATEGIES, requestBody, type Knobs } from './settings.ts';
import {
  EXAMPLES,
  exampleFor,
  expectedAnswer,
  randomPrompt,
  seededRandom,
  userMessages,
} from './tasks.ts';
import { GenerationTrace } from './trace.ts';
import { GenerationPanel } from './view.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from the page`);
  return e as T;
};
const input = (id: string) => $<HTMLInputElement>(id);

const message = (e: unknown): string =>
  e instanceof ApiCallError
    ? `${e.message}${e.code ? ` (${e.status} ${e.code})` : ` (${e.status})`}`
    : e instanceof Error
      ? e.message
      : String(e);

type Mode = 'server' | 'browser';
const mode = (): Mode =>
  ($<HTMLFormElement>('run-form').elements.namedItem('mode') as RadioNodeList).value as Mode;

// ---- knobs ----------------------------------------------------------------------------------------------------

function optionalInt(id: string): number | null {
  const v = input(id).value.trim();
  return v === '' ? null : Number.parseInt(v, 10);
}

function readKnobs(): Knobs {
  return {
    model: $<HTMLSelectElement>('model').value,
    threshold: Number(input('threshold').value),
    blockLength: optionalInt('block-length'),
    steps: optionalInt('steps'),
    strategy: $<HTMLSelectElement>('strategy').value,
    temperature: Number(input('temperature').value),
    seed: optionalInt('seed'),
    maxTokens: optionalInt('max-tokens') ?? DEFAULT_KNOBS.maxTokens,
  };
}

function fillStrategies(id: string, selected: string): void {
  const select = $<HTMLSelectElement>(id);
  select.replaceChildren(
    ...STRATEGIES.map((s) => {
      const o = document.createElement('option');
      o.value = s;
      o.textContent = s;
      o.selected = s === selected;
      return o;
    }),
  );
}

// ---- key and models -------------------------------------------------------------------------------------------

async function useKey(key: string): Promise<void> {
  const status = $('key-status');
  const select = $<HTMLSelectElement>('model');
  status.textContent = 'Checking the key…';
  status.className = '';
  try {
    const models = await listModels(key);
    keyStore.set(key);
    select.replaceChildren(
      ...models.map((id) => {
        const o = document.createElement('option');
        o.value = id;
        o.textContent = id;
        return o;
      }),
    );
    status.textContent = models.length
      ? `This key may use ${models.length} model${models.length === 1 ? '' : 's'}: ${models.join(', ')}.`
      : 'This key may use no model.';
    document.body.dataset.models = models.join(',');
  } catch (e: unknown) {
    keyStore.clear();
    select.replaceChildren(new Option('(enter a valid key)', ''));
    status.textContent = message(e);
    status.className = 'error';
    document.body.dataset.models = '';
  }
}

// ---- running a generation into a panel -------------------------------------------------------------------------

const browserModels = new Map<string, Promise<BrowserModel>>();

function modeNote(): void {
  const note = $('mode-note');
  if (mode() === 'server') {
    note.textContent =
      'The prompt goes to this server’s API; the view reads the denoising frames of its stream.';
    return;
  }
  const gpu = webgpuAvailable() ? 'WebGPU is available' : 'this browser has no WebGPU, so WASM';
  note.textContent = `Nothing is sent to the server in this mode: the page downloads the model package once (every file checked against its sha256 with Web Crypto) and runs the same decode loop here with onnxruntime-web (${gpu}).`;
}

async function browserModel(modelId: string): Promise<BrowserModel> {
  const prefer = $<HTMLSelectElement>('backend').value as 'auto' | 'wasm' | 'webgpu';
  const cacheKey = `${modelId}|${prefer}`;
  let pending = browserModels.get(cacheKey);
  if (!pending) {
    const box = $('download');
    const bar = $<HTMLProgressElement>('download-progress');
    const text = $('download-text');
    box.hidden = false;
    pending = loadBrowserModel({
      modelId,
      key: keyStore.get(),
      prefer,
      onProgress: (done, total) => {
        bar.max = total;
        bar.value = done;
        text.textContent = `${(done / 2 ** 20).toFixed(1)} of ${(total / 2 ** 20).toFixed(1)} MiB`;
      },
    });
    browserModels.set(cacheKey, pending);
    pending.then(
      (m) => {
        box.hidden = true;
        document.body.dataset.browserBackend = m.backend;
        $('mode-note').textContent =
          `Running in this browser on ${m.backend === 'webgpu' ? 'WebGPU' : 'WASM'}${m.fallback ? ` (${m.fallback})` : ''}: ${m.id}, ${(m.bytes / 2 ** 20).toFixed(1)} MiB verified, downloaded in ${m.downloadMs.toFixed(0)} ms, session in ${m.sessionMs.toFixed(0)} ms. Nothing is sent to the server while it generates.`;
      },
      () => {
        box.hidden = true;
        browserModels.delete(cacheKey);
      },
    );
  }
  return pending;
}

async function runInto(
  panel: GenerationPanel,
  knobs: Knobs,
  prompt: string,
  signal: AbortSignal,
): Promise<GenerationTrace> {
  const trace = new GenerationTrace();
  const messages = userMessages(prompt);
  panel.start(trace, expectedAnswer(prompt));
  try {
    if (!knobs.model) throw new Error('Choose a model (enter a key first).');
    if (mode() === 'server') {
      const t0 = performance.now();
      const body = requestBody(knobs, messages, { stream: true, tools: exampleFor(prompt)?.tools });
      for await (const ev of streamChat(keyStore.get(), body, signal)) {
        if (ev.type === 'frame') {
          trace.add(ev.frame, performance.now() - t0);
          panel.update();
        } else if (ev.type === 'delta') trace.text += ev.text;
        else if (ev.type === 'finish') trace.finishReason = ev.reason;
      }
    } else {
      const m = await browserModel(knobs.model);
      const t0 = performance.now();
      const r = await generateInBrowser(m, knobs, messages, {
        signal,
        onDelta: (text) => {
          trace.text += text;
        },
        onFrame: (frame) => {
          trace.add(frame, performance.now() - t0);
          panel.update();
        },
      });
      trace.finishReason = r.finishReason;
    }
  } catch (e: unknown) {
    trace.error = signal.aborted ? 'Stopped.' : message(e);
  }
  trace.done = true;
  panel.finish();
  return trace;
}

// ---- side by side and batches ----------------------------------------------------------------------------------

function compareKnobs(side: 'a' | 'b'): Knobs {
  return {
    ...readKnobs(),
    threshold: Number(input(`${side}-threshold`).value),
    strategy: $<HTMLSelectElement>(`${side}-strategy`).value,
  };
}

const label = (k: Knobs) => `threshold ${k.threshold}, ${k.strategy}`;

async function runBatch(signal: AbortSignal): Promise<void> {
  const size = Math.max(1, Math.min(200, Number(input('batch-size').value) || 20));
  const task = $<HTMLSelectElement>('batch-task').value as 'sort' | 'add';
  const settings = [compareKnobs('a'), compareKnobs('b')];
  const random = seededRandom(size * 7919 + (task === 'add' ? 1 : 0));
  const prompts = Array.from({ length: size }, () => randomPrompt(task, random));
  const tally = settings.map(() => ({ correct: 0, forwards: 0, tpf: 0, done: 0 }));
  const table = $<HTMLTableElement>('batch-table');
  const render = () => {
    table.hidden = false;
    table.tBodies[0].replaceChildren(
      ...settings.map((k, i) => {
        const t = tally[i];
        const row = table.tBodies[0].insertRow();
        const cells = [
          `${i === 0 ? 'A' : 'B'}: ${label(k)}`,
          t.done ? `${((100 * t.correct) / t.done).toFixed(0)} % (${t.correct}/${t.done})` : '–',
          t.done ? (t.forwards / t.done).toFixed(2) : '–',
          t.done ? (t.tpf / t.done).toFixed(2) : '–',
        ];
        for (const c of cells) row.insertCell().textContent = c;
        return row;
      }),
    );
  };
  render();
  for (const prompt of prompts) {
    if (signal.aborted) break;
    const expected = expectedAnswer(prompt);
    await Promise.all(
      settings.map(async (k, i) => {
        let text: string;
        let forwards: number;
        let tpf: number;
        if (mode() === 'server') {
          const r = await completeChat(
            keyStore.get(),
            requestBody(k, userMessages(prompt), { stream: false }),
            signal,
          );
          ({ text, forwards, tokensPerForward: tpf } = r);
        } else {
          const m = await browserModel(k.model);
          let out = '';
          const r = await generateInBrowser(m, k, userMessages(prompt), {
            signal,
            onFrame: () => {},
            onDelta: (d) => {
              out += d;
            },
          });
          ({ forwards, tokensPerForward: tpf } = r);
          text = out;
        }
        const t = tally[i];
        t.done++;
        t.forwards += forwards;
        t.tpf += tpf;
        if (text.trim() === expected) t.correct++;
      }),
    );
    render();
  }
}

// ---- wiring ----------------------------------------------------------------------------------------------------

function main(): void {
  fillStrategies('strategy', DEFAULT_KNOBS.strategy);
  fillStrategies('a-strategy', 'low_confidence');
  fillStrategies('b-strategy', 'low_confidence');
  const mainPanel = new GenerationPanel($('main-panel'), 'This generation');
  const panelA = new GenerationPanel($('panel-a'), 'A');
  const panelB = new GenerationPanel($('panel-b'), 'B');

  const examples = $('examples');
  for (const ex of EXAMPLES) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `${ex.label}: ${ex.prompt}`;
    b.dataset.example = ex.id;
    b.addEventListener('click', () => {
      $<HTMLTextAreaElement>('prompt').value = ex.prompt;
      $('tool-note').hidden = ex.id !== 'tool';
      $<HTMLTextAreaElement>('prompt').focus();
    });
    examples.append(b);
  }

  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void useKey(input('key').value.trim());
  });
  $('forget-key').addEventListener('click', () => {
    keyStore.clear();
    input('key').value = '';
    $<HTMLSelectElement>('model').replaceChildren(new Option('(enter a key first)', ''));
    $('key-status').textContent = 'The key is forgotten.';
  });
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name="mode"]'))
    r.addEventListener('change', modeNote);
  modeNote();

  let running: AbortController | null = null;
  const setRunning = (c: AbortController | null) => {
    running = c;
    $<HTMLButtonElement>('run').disabled = c !== null;
    $<HTMLButtonElement>('compare-run').disabled = c !== null;
    $<HTMLButtonElement>('batch-run').disabled = c !== null;
    $<HTMLButtonElement>('stop').disabled = c === null;
  };
  $('stop').addEventListener('click', () => running?.abort());

  $('run-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('run-error').textContent = '';
    const c = new AbortController();
    setRunning(c);
    try {
      const trace = await runInto(
        mainPanel,
        readKnobs(),
        $<HTMLTextAreaElement>('prompt').value,
        c.signal,
      );
      if (trace.error && !c.signal.aborted) $('run-error').textContent = trace.error;
    } finally {
      setRunning(null);
    }
  });

  $('compare-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('compare-error').textContent = '';
    const c = new AbortController();
    setRunning(c);
    const prompt = $<HTMLTextAreaElement>('prompt').value;
    try {
      if (mode() === 'server') {
        // Two streams at once: the server interleaves them forward by forward.
        await Promise.all([
          runInto(panelA, compareKnobs('a'), prompt, c.signal),
          runInto(panelB, compareKnobs('b'), prompt, c.signal),
        ]);
      } else {
        // One main thread: the browser runs them one after the other.
        await runInto(panelA, compareKnobs('a'), prompt, c.signal);
        await runInto(panelB, compareKnobs('b'), prompt, c.signal);
      }
    } finally {
      setRunning(null);
    }
  });

  $('batch-run').addEventListener('click', async () => {
    $('compare-error').textContent = '';
    const c = new AbortController();
    setRunning(c);
    try {
      await runBatch(c.signal);
    } catch (e: unknown) {
      if (!c.signal.aborted) $('compare-error').textContent = message(e);
    } finally {
      setRunning(null);
    }
  });

  const saved = keyStore.get();
  if (saved) {
    input('key').value = saved;
    void useKey(saved);
  }
  document.body.dataset.ready = 'true';
}

main();
