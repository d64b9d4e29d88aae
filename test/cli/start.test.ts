/**
 * `npm start`, the README's first command, as a real process: it serves the demo model in workerd, prints a
 * development key and a curl line that work as printed, and keeps the key across restarts of the same state.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const states: string[] = [];
after(() => Promise.all(states.map((d) => rm(d, { recursive: true, force: true }))));

interface Started {
  child: ChildProcess;
  url: string;
  playground: string;
  key: string;
  curlBody: string;
}

function start(stateDir: string, env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    env: { ...process.env, PORT: '0', UNMASK_STATE_DIR: stateDir, ADMIN_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const ready = /Unmask ready at (http:\/\/\S+)/.exec(out);
      const playground = /^playground: (http:\/\/\S+)/m.exec(out);
      const key = /development key .*: (sk-unmask-\w+)/.exec(out);
      const curl = /try: curl .* -d '(.*)'\n/.exec(out);
      if (ready && playground && key && curl)
        resolve({
          child,
          url: ready[1],
          playground: playground[1],
          key: key[1],
          curlBody: curl[1],
        });
    });
    child.on('exit', (code) => reject(new Error(`npm start exited ${code}: ${err}`)));
  });
}

const stop = (s: Started) =>
  new Promise<void>((resolve) => {
    s.child.once('exit', () => resolve());
    s.child.kill('SIGTERM');
  });

test('npm start: the printed key and curl line answer "sort: dbca" with "abcd", the printed playground URL serves the page; the key survives a restart', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'unmask-start-'));
  states.push(stateDir);
  const first = await start(stateDir, { CORS_ORIGINS: 'https://app.example' });
  try {
    // npm start hands CORS_ORIGINS (and LOG_REQUESTS, PREFIX_CACHE_MB, POOL_CONFIG) to the Worker.
    const preflight = (origin: string) =>
      fetch(`${first.url}/v1/chat/completions`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    assert.equal(
      (await preflight('https://app.example')).headers.get('access-control-allow-origin'),
      'https://app.example',
    );
    assert.equal(
      (await preflight('https://evil.example')).headers.get('access-control-allow-origin'),
      null,
    );
    const res = await fetch(`${first.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first.key}`, 'content-type': 'application/json' },
      body: first.curlBody,
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      model: string;
      choices: { message: { content: string } }[];
    };
    assert.equal(body.model, 'unmask-demo');
    assert.equal(body.choices[0].message.content, 'abcd');
    assert.equal((await stat(join(stateDir, 'dev-key.json'))).mode & 0o777, 0o600);
    // The printed playground URL serves the page, and the page's script and ORT's wasm come from the same app.
    assert.equal(first.playground, `${first.url}/`);
    const page = await fetch(first.playground);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    assert.match(html, /<title>Unmask playground/);
    const script = /<script type="module" src="([^"]+)"/.exec(html)![1];
    const js = await fetch(new URL(script, first.url));
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    await js.arrayBuffer();
    const wasm = await fetch(`${first.url}/playground/ort/ort-wasm-simd-threaded.wasm`);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.ok((await wasm.arrayBuffer()).byteLength > 1 << 20);
  } finally {
    await stop(first);
  }
  const second = await start(stateDir);
  try {
    assert.equal(second.key, first.key, 'the development key is reused');
    const models = await fetch(`${second.url}/v1/models`, {
      headers: { authorization: `Bearer ${second.key}` },
    });
    assert.equal(models.status, 200);
  } finally {
    await stop(second);
  }
});

test('npm start refuses to say ready when the model fails verification, and says why in one line', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'unmask-start-bad-'));
  states.push(stateDir);
  const model = join(stateDir, 'model');
  await cp('assets/demo-model', model, { recursive: true });
  const onnx = await readFile(join(model, 'model.onnx'));
  onnx[onnx.length - 100] ^= 0xff; // same size, wrong sha256
  await writeFile(join(model, 'model.onnx'), onnx);
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    env: { ...process.env, PORT: '0', UNMASK_STATE_DIR: stateDir, UNMASK_MODEL_DIR: model },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 1);
  assert.doesNotMatch(out, /ready/);
  assert.match(err, /^start: the model failed to load: .*model\.onnx.*corrupt/m);
});
