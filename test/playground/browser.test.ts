/**
 * The playground in a real browser (Debian's chromium driven by playwright-core), against both deployments that
 * serve it: the built Worker in workerd with static assets (what `npm start` runs) and the Node API server
 * (`serve:api`). The page loads without console errors, lists the key's models, answers a sort prompt through the
 * API with its denoising frames drawn, replays them, runs the same prompt in the browser (WASM) to the same
 * tokens without calling the generation API, runs the side-by-side pair, and shows the API's error for a bad key.
 * PLAYGROUND_SCREENSHOTS=<dir> also writes the README's screenshots.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startNodeApi, type NodeApiServer } from '../../backends/node/api/server.ts';
import {
  buildWorker,
  seedPackage,
  startWorker,
  type BuiltWorker,
  type RunningWorker,
} from '../../backends/node/worker-harness.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM)
  ? false
  : `no chromium at ${CHROMIUM} (apt-get install chromium, as .ci/run does; or set CHROMIUM_PATH)`;
const DEMO = resolve('assets/demo-model');
const MODEL = 'unmask-demo';
const ADMIN = 'adm-playground-test';
const SHOTS = process.env.PLAYGROUND_SCREENSHOTS;
const LONG = 120_000;

/** The flags Chromium needs on these machines (root, no GPU, closed network). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface Served {
  url: string;
  key: string;
  close(): Promise<void>;
}

async function createKey(base: string): Promise<string> {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    assert.ok(res.ok, JSON.stringify(json));
    return json;
  };
  const tenant = await post('/admin/tenants', { name: 'playground' });
  return (await post(`/admin/tenants/${tenant.id as string}/keys`, {})).key as string;
}

async function serveWorkerd(): Promise<Served> {
  const built: BuiltWorker = await buildWorker();
  const worker: RunningWorker = await startWorker(built, {
    edgeModel: MODEL,
    prefix: MODEL,
    adminToken: ADMIN,
    listen: { host: '127.0.0.1', port: 0 },
  });
  await seedPackage(worker, DEMO, MODEL);
  const url = `http://127.0.0.1:${worker.url.port}`;
  return {
    url,
    key: await createKey(url),
    close: async () => {
      await worker.dispose();
      await built.cleanup();
    },
  };
}

async function serveNode(): Promise<Served> {
  const dataDir = await mkdtemp(join(tmpdir(), 'unmask-playground-'));
  const server: NodeApiServer = await startNodeApi({
    model: DEMO,
    dataDir,
    adminToken: ADMIN,
    port: 0,
  });
  return {
    url: server.url,
    key: await createKey(server.url),
    close: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

type PanelData = { state?: string; tokens?: string; text?: string };

const panelData = (page: Page, id: string) =>
  page.evaluate((i) => ({ ...document.getElementById(i)!.dataset }) as PanelData, id);

async function waitDone(page: Page, id: string): Promise<PanelData> {
  await page.waitForFunction(
    (i) => ['done', 'error'].includes(document.getElementById(i)!.dataset.state ?? ''),
    id,
    { timeout: LONG },
  );
  return panelData(page, id);
}

let browser: Browser | undefined;
before(async () => {
  if (!SKIP) browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  if (SHOTS) await mkdir(SHOTS, { recursive: true });
});
after(() => browser?.close());

for (const [name, serve] of [
  ['workerd (npm start)', serveWorkerd],
  ['Node (serve:api)', serveNode],
] as const) {
  describe(`playground in chromium, served by ${name}`, { skip: SKIP }, () => {
    let served: Served;
    let page: Page;
    const consoleErrors: string[] = [];
    let serverTokens = '';
    let serverText = '';

    before(async () => {
      served = await serve();
      const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
      page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(m.text());
      });
      page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    });
    after(async () => {
      await page?.context().close();
      await served?.close();
    });

    test('the page loads without console errors and lists the models the key may use', async () => {
      const res = await page.goto(`${served.url}/`);
      assert.equal(res?.status(), 200);
      await page.waitForFunction(() => document.body.dataset.ready === 'true');
      assert.equal(await page.title(), 'Unmask playground — watch a diffusion model think');
      await page.fill('#key', served.key);
      await page.press('#key', 'Enter');
      await page.waitForFunction(() => document.body.dataset.models !== undefined);
      assert.equal(await page.evaluate(() => document.body.dataset.models), MODEL);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('unmask.apiKey')), served.key);
      assert.equal(await page.evaluate(() => localStorage.length), 0, 'the key is not kept');
      assert.deepEqual(consoleErrors, []);
    });

    test('a sort prompt through the API: "abcd", the denoising frames drawn, readouts, replay', async () => {
      // The example button, by keyboard.
      await page.focus('button[data-example="sort"]');
      await page.keyboard.press('Enter');
      assert.equal(await page.inputValue('#prompt'), 'sort: dbca');
      await page.fill('#threshold', '0.9');
      await page.click('#run');
      const done = await waitDone(page, 'main-panel');
      assert.equal(done.state, 'done', (await page.textContent('#main-panel')) ?? '');
      assert.equal(done.text, 'abcd');
      serverTokens = done.tokens!;
      serverText = done.text!;
      assert.ok(JSON.parse(serverTokens).length >= 4);
      // The view: cells of the last block, a forward count, the verdict, a usable replay slider.
      assert.ok((await page.locator('#main-panel .cells .cell').count()) > 0);
      const forwards = await page.textContent('#main-panel [data-readout="forwards"]');
      assert.ok(Number(forwards) >= 1, `forwards ${forwards}`);
      assert.match((await page.textContent('#main-panel .result'))!, /✓ correct/);
      const slider = page.locator('#main-panel input[type="range"]');
      assert.equal(await slider.isEnabled(), true);
      await slider.focus();
      await page.keyboard.press('Home');
      assert.match((await page.textContent('#main-panel .replay output'))!, /^step 1 of /);
      // The first step of the first block: at least one position was still masked or just committed.
      assert.ok(
        (await page.locator('#main-panel .cell.new').count()) +
          (await page.locator('#main-panel .cell.masked').count()) >
          0,
      );
      // Every cell says what it is in text, not only in colour.
      for (const label of await page
        .locator('#main-panel .cells .cell')
        .evaluateAll((cells) => cells.map((c) => c.getAttribute('aria-label') ?? '')))
        assert.match(label, /^position \d+: (masked|".*", confidence \d+%, committed)/);
      await page.keyboard.press('End');
      assert.deepEqual(consoleErrors, []);
    });

    test('Run in my browser (WASM): the same tokens as the server, and no generation request leaves the page', async () => {
      const requests: string[] = [];
      const onRequest = (r: { url(): string }) => requests.push(new URL(r.url()).pathname);
      page.on('request', onRequest);
      await page.check('input[name="mode"][value="browser"]');
      assert.match((await page.textContent('#mode-note'))!, /Nothing is sent to the server/);
      await page.selectOption('#backend', 'wasm');
      await page.click('#run');
      const done = await waitDone(page, 'main-panel');
      page.off('request', onRequest);
      assert.equal(done.state, 'done', (await page.textContent('#main-panel')) ?? '');
      assert.equal(await page.evaluate(() => document.body.dataset.browserBackend), 'wasm');
      assert.equal(done.tokens, serverTokens, 'browser tokens = server tokens');
      assert.equal(done.text, serverText);
      assert.ok(
        requests.some((p) => p === `/v1/models/${MODEL}/package/model.onnx`),
        'the package came from the package route',
      );
      assert.ok(requests.includes('/playground/ort/ort-wasm-simd-threaded.wasm'));
      assert.deepEqual(
        requests.filter((p) => p.includes('/completions')),
        [],
        'no generation request was sent',
      );
      // More prompts and knobs, each decoded on the server and then in the page: the same tokens.
      const cases = [
        { prompt: 'add: 012+345', threshold: '0.9', blockLength: '', strategy: 'low_confidence' },
        { prompt: 'sort: qwerty', threshold: '0.5', blockLength: '4', strategy: 'low_confidence' },
        { prompt: 'sort: tjnoqrhk', threshold: '0.7', blockLength: '', strategy: 'hierarchy' },
        { prompt: 'add: 999+001', threshold: '0.99', blockLength: '8', strategy: 'factor' },
      ];
      for (const c of cases) {
        await page.fill('#prompt', c.prompt);
        await page.fill('#threshold', c.threshold);
        await page.fill('#block-length', c.blockLength);
        await page.selectOption('#strategy', c.strategy);
        const tokens: string[] = [];
        for (const mode of ['server', 'browser']) {
          await page.check(`input[name="mode"][value="${mode}"]`);
          await page.click('#run');
          const r = await waitDone(page, 'main-panel');
          assert.equal(r.state, 'done', `${mode} ${c.prompt}`);
          tokens.push(r.tokens!);
        }
        assert.equal(tokens[1], tokens[0], `${JSON.stringify(c)}: browser = server`);
      }
      await page.fill('#block-length', '');
      await page.selectOption('#strategy', 'low_confidence');
      assert.deepEqual(consoleErrors, []);
      // Back to the server for the next test.
      await page.check('input[name="mode"][value="server"]');
    });

    test('side by side: both settings decode, each with its forwards and verdict', async () => {
      await page.fill('#a-threshold', '0.95');
      await page.fill('#b-threshold', '0.3');
      await page.click('#compare-run');
      const [a, b] = [await waitDone(page, 'panel-a'), await waitDone(page, 'panel-b')];
      assert.equal(a.state, 'done');
      assert.equal(b.state, 'done');
      for (const id of ['panel-a', 'panel-b']) {
        assert.ok(Number(await page.textContent(`#${id} [data-readout="forwards"]`)) >= 1);
        assert.match((await page.textContent(`#${id} .result`))!, /correct|expected/);
      }
      await page.fill('#batch-size', '4');
      await page.click('#batch-run');
      await page.waitForFunction(
        () => !(document.getElementById('batch-run') as HTMLButtonElement).disabled,
        null,
        { timeout: LONG },
      );
      const rows = await page
        .locator('#batch-table tbody tr')
        .evaluateAll((trs) => trs.map((tr) => tr.textContent ?? ''));
      assert.equal(rows.length, 2);
      for (const row of rows) assert.match(row, /\d+ % \(\d\/4\)/);
      assert.deepEqual(consoleErrors, []);
    });

    test(
      "the README's screenshots",
      {
        skip: !SHOTS
          ? 'set PLAYGROUND_SCREENSHOTS=<dir> to write them'
          : !name.startsWith('workerd')
            ? 'taken from the workerd run'
            : false,
      },
      async () => {
        // A longer answer at a high threshold: several steps per block, masks resolving a few at a time.
        await page.fill('#prompt', 'sort: tjnoqrhk');
        await page.fill('#threshold', '0.99');
        await page.fill('#steps', '');
        await page.click('#run');
        assert.equal((await waitDone(page, 'main-panel')).state, 'done');
        // Replay to the step with the most cells committed in it while others are still masked.
        const best = await page.evaluate(() => {
          const slider = document.querySelector<HTMLInputElement>(
            '#main-panel input[type="range"]',
          )!;
          let pick = 0;
          let score = -1;
          for (let k = 0; k <= Number(slider.max); k++) {
            slider.value = String(k);
            slider.dispatchEvent(new Event('input'));
            const n = document.querySelectorAll('#main-panel .cell.new').length;
            const m = document.querySelectorAll('#main-panel .cell.masked').length;
            const s = m > 0 && n > 0 ? n + m / 10 : -1;
            if (s > score) [pick, score] = [k, s];
          }
          slider.value = String(pick);
          slider.dispatchEvent(new Event('input'));
          return pick;
        });
        assert.ok(best >= 0);
        await page.setViewportSize({ width: 1100, height: 700 });
        await page.locator('#view-title').scrollIntoViewIfNeeded();
        const view = page.locator('section', { has: page.locator('#view-title') });
        await view.screenshot({ path: join(SHOTS!, 'playground-denoising.png') });
        await page.fill('#prompt', 'sort: tjnoqrhk');
        await page.fill('#a-threshold', '0.99');
        await page.fill('#b-threshold', '0.5');
        await page.click('#compare-run');
        await waitDone(page, 'panel-a');
        await waitDone(page, 'panel-b');
        await page.fill('#batch-size', '20');
        await page.click('#batch-run');
        await page.waitForFunction(
          () => !(document.getElementById('batch-run') as HTMLButtonElement).disabled,
          null,
          { timeout: LONG },
        );
        const compare = page.locator('section', { has: page.locator('#compare-title') });
        await compare.screenshot({ path: join(SHOTS!, 'playground-side-by-side.png') });
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: join(SHOTS!, 'playground-top.png') });
        await page.setViewportSize({ width: 1280, height: 900 });
      },
    );

    test("a bad key shows the API's own error", async () => {
      const expected = await fetch(`${served.url}/v1/models`, {
        headers: { authorization: 'Bearer sk-unmask-not-a-real-key' },
      });
      assert.equal(expected.status, 401);
      const message = ((await expected.json()) as { error: { message: string } }).error.message;
      const fresh = await browser!.newPage();
      try {
        await fresh.goto(`${served.url}/`);
        await fresh.waitForFunction(() => document.body.dataset.ready === 'true');
        await fresh.fill('#key', 'sk-unmask-not-a-real-key');
        await fresh.click('#key-form button[type="submit"]');
        await fresh.waitForFunction(() => document.body.dataset.models === '');
        const status = (await fresh.textContent('#key-status'))!;
        assert.ok(status.includes(message), `${status} should include ${message}`);
        assert.match(status, /401/);
        assert.equal(await fresh.evaluate(() => sessionStorage.getItem('unmask.apiKey')), null);
      } finally {
        await fresh.close();
      }
    });
  });
}
