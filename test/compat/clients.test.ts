/**
 * Client compatibility against the real servers, as a user points each client at Unmask: `npm start` (the
 * Worker in workerd, a real process) and `npm run serve:api` (Node), both serving the demo model. Clients: the
 * official `openai` package (chat, stream, logprobs, responses, abort), the AI SDK's default OpenAI provider
 * (`createOpenAI(...)(model)`, which calls the Responses API) and `@ai-sdk/openai-compatible` (chat completions).
 * Tools and json_schema run when the served model can do them, and say why they are skipped otherwise.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';

const MODEL = 'unmask-demo';
const ADMIN = 'adm-compat';
/** A prompt the demo model answers exactly (threshold 0.9: README). */
const SORT = { role: 'user' as const, content: 'sort: dbca' };
const extras = { threshold: 0.9 };

interface Server {
  url: string;
  key: string;
  child: ChildProcess;
  dir: string;
}

/** Spawns a CLI and waits until `ready` matches its output (stdout and stderr). */
function spawnUntil(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, POOL_CONFIG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    // A server that never prints its ready line fails the suite instead of hanging it.
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${args[0]} did not print ${ready} within 120 s: ${out}`));
    }, 120_000);
    const seen = (d: Buffer) => {
      out += d;
      const match = ready.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    child.on('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${out}`)));
  });
}

async function startNpmStart(): Promise<Server> {
  const dir = await mkdtemp(join(tmpdir(), 'unmask-compat-start-'));
  const { child, match } = await spawnUntil(
    ['scripts/start.ts'],
    { PORT: '0', ADMIN_TOKEN: ADMIN, UNMASK_STATE_DIR: dir },
    /Unmask ready at (http:\/\/\S+)[^]*?\ndevelopment key[^:]*: (sk-unmask-\S+)/,
  );
  return { url: match[1], key: match[2], child, dir };
}

async function startServeApi(): Promise<Server> {
  const dir = await mkdtemp(join(tmpdir(), 'unmask-compat-node-'));
  const { child, match } = await spawnUntil(
    ['scripts/serve-api.ts', '--port', '0', '--model', 'assets/demo-model', '--data', dir],
    { ADMIN_TOKEN: ADMIN },
    /ready: .* at (http:\/\/\S+)/,
  );
  const admin = (path: string, body: unknown) =>
    fetch(`${match[1]}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => r.json() as Promise<Record<string, string>>);
  const tenant = await admin('/admin/tenants', { name: 'compat' });
  const key = await admin(`/admin/tenants/${tenant.id}/keys`, {});
  return { url: match[1], key: key.key, child, dir };
}

async function stop(s: Server | undefined): Promise<void> {
  if (!s) return;
  if (s.child.exitCode === null)
    await new Promise<void>((resolve) => {
      s.child.once('exit', () => resolve());
      s.child.kill('SIGTERM');
    });
  await rm(s.dir, { recursive: true, force: true });
}

/** Skips the test when the server refuses the feature for this model (the reason is the server's message). */
async function unlessRefused<T>(t: TestContext, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (e: unknown) {
    const err = e as { status?: number; statusCode?: number; message?: string };
    if (err.status === 400 || err.statusCode === 400) {
      t.skip(`the served model cannot: ${err.message}`);
      return undefined;
    }
    throw e;
  }
}

const targets: [string, () => Promise<Server>][] = [
  ['npm start (workerd)', startNpmStart],
  ['serve:api (Node)', startServeApi],
];

for (const [name, start] of targets) {
  describe(`clients against ${name}`, () => {
    let server: Server | undefined;
    let client: OpenAI;
    before(async () => {
      server = await start();
      client = new OpenAI({ apiKey: server.key, baseURL: `${server.url}/v1`, maxRetries: 0 });
    });
    after(() => stop(server));

    test('/docs and its Swagger UI assets come from the server; /openapi.json names the served model', async () => {
      const page = await fetch(`${server!.url}/docs`);
      assert.match(await page.text(), /\/docs\/assets\/swagger-ui-dist\/swagger-ui-bundle\.js/);
      const script = await fetch(`${server!.url}/docs/assets/swagger-ui-dist/swagger-ui-bundle.js`);
      assert.equal(script.status, 200);
      assert.match(await script.text(), /SwaggerUIBundle/);
      const doc = await (await fetch(`${server!.url}/openapi.json`)).text();
      assert.ok(doc.includes(`"example":"${MODEL}"`) && doc.includes('/admin/tenants'));
    });

    test('openai: chat, stream (same text), logprobs', async () => {
      const whole = await client.chat.completions.create({
        model: MODEL,
        messages: [SORT],
        ...extras,
      } as never);
      assert.equal(whole.choices[0].message.content, 'abcd');
      const stream = await client.chat.completions.create({
        model: MODEL,
        messages: [SORT],
        stream: true,
        stream_options: { include_usage: true, include_denoising: true },
        ...extras,
      } as never);
      let text = '';
      for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>)
        text += chunk.choices[0]?.delta.content ?? '';
      assert.equal(text, 'abcd');
      const lp = await client.chat.completions.create({
        model: MODEL,
        messages: [SORT],
        logprobs: true,
        top_logprobs: 2,
        ...extras,
      } as never);
      const content = lp.choices[0].logprobs!.content!;
      assert.equal(content.length, lp.usage!.completion_tokens);
      assert.ok(content.every((t) => t.logprob <= 0 && t.top_logprobs.length === 2));
    });

    test('openai: responses.create, streamed and not', async () => {
      const r = await client.responses.create({
        model: MODEL,
        input: 'sort: dbca',
        ...extras,
      } as never);
      assert.equal(r.output_text, 'abcd');
      const stream = await client.responses.create({
        model: MODEL,
        input: 'sort: dbca',
        stream: true,
        ...extras,
      } as never);
      let text = '';
      for await (const e of stream as unknown as AsyncIterable<OpenAI.Responses.ResponseStreamEvent>)
        if (e.type === 'response.output_text.delta') text += e.delta;
      assert.equal(text, 'abcd');
    });

    test('openai: a stream aborted by the client ends at once; the server keeps serving', async () => {
      const controller = new AbortController();
      const stream = await client.chat.completions.create(
        { model: MODEL, messages: [SORT], stream: true, threshold: 1 } as never,
        { signal: controller.signal },
      );
      let chunks = 0;
      let text = '';
      try {
        for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
          chunks++;
          text += chunk.choices[0]?.delta.content ?? '';
          controller.abort(); // after the role chunk
        }
      } catch (e: unknown) {
        assert.ok(e instanceof OpenAI.APIUserAbortError, String(e));
      }
      // The first content can arrive a few ms after the role chunk (the demo model's first forward), in the same
      // read as the role chunk: at most that one more chunk is delivered, never the whole answer.
      assert.ok(chunks <= 2, `${chunks} chunks after the abort`);
      assert.ok('abcd'.startsWith(text) && text !== 'abcd', JSON.stringify(text));
      const next = await client.chat.completions.create({
        model: MODEL,
        messages: [SORT],
        ...extras,
      } as never);
      assert.equal(next.choices[0].message.content, 'abcd');
    });

    test('AI SDK: the default provider (Responses API) and openai-compatible (chat), text and stream', async () => {
      const openai = createOpenAI({ apiKey: server!.key, baseURL: `${server!.url}/v1` });
      const compatible = createOpenAICompatible({
        name: 'unmask',
        apiKey: server!.key,
        baseURL: `${server!.url}/v1`,
      });
      for (const model of [openai(MODEL), compatible(MODEL)]) {
        const body = { threshold: 0.9 };
        const providerOptions = { openai: body, unmask: body };
        const r = await generateText({
          model,
          prompt: 'sort: dbca',
          maxRetries: 0,
          providerOptions,
        });
        assert.equal(r.text, 'abcd', model.provider);
        let text = '';
        const s = streamText({ model, prompt: 'sort: dbca', maxRetries: 0, providerOptions });
        for await (const part of s.textStream) text += part;
        assert.equal(text, 'abcd', model.provider);
      }
    });

    test('tools loop (openai runTools and the AI SDK), when the served model calls tools', async (t) => {
      const runner = await unlessRefused(t, async () =>
        client.chat.completions
          .runTools({
            model: MODEL,
            messages: [{ role: 'user', content: 'what is 12 plus 345?' }],
            tools: [
              {
                type: 'function',
                function: {
                  name: 'add',
                  description: 'Add two integers and return their sum.',
                  parameters: {
                    type: 'object',
                    properties: { a: { type: 'integer' }, b: { type: 'integer' } },
                    required: ['a', 'b'],
                  },
                  parse: JSON.parse,
                  function: (args: { a: number; b: number }) => String(args.a + args.b),
                },
              },
            ],
          })
          .finalContent(),
      );
      if (runner === undefined) return;
      assert.match(runner ?? '', /357/);
      const r = await generateText({
        model: createOpenAI({ apiKey: server!.key, baseURL: `${server!.url}/v1` })(MODEL),
        prompt: 'what is 12 plus 345?',
        maxRetries: 0,
        stopWhen: stepCountIs(3),
        tools: {
          add: tool({
            description: 'Add two integers and return their sum.',
            inputSchema: jsonSchema<{ a: number; b: number }>({
              type: 'object',
              properties: { a: { type: 'integer' }, b: { type: 'integer' } },
              required: ['a', 'b'],
            }),
            execute: async ({ a, b }) => a + b,
          }),
        },
      });
      assert.match(r.text, /357/);
    });

    test('json_schema output, when the server constrains output', async (t) => {
      const schema = {
        type: 'object',
        // Bounded, so the answer completes within max_tokens on a model that never saw JSON.
        properties: { sorted: { type: 'string', maxLength: 8 } },
        required: ['sorted'],
        additionalProperties: false,
      };
      const r = await unlessRefused(t, () =>
        client.chat.completions.create({
          model: MODEL,
          messages: [SORT],
          max_tokens: 64,
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'out', schema, strict: true },
          },
        }),
      );
      if (!r) return;
      assert.equal(r.choices[0].finish_reason, 'stop');
      const value = JSON.parse(r.choices[0].message.content!) as { sorted: unknown };
      assert.equal(typeof value.sorted, 'string');
    });
  });
}
