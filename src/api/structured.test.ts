/**
 * Structured output end to end in-process (official openai client → app → decode loop → xgrammar on Node): on a
 * tiny random model (the grammar does all the work) and on the trained demo model, every output that ends with
 * finish_reason "stop" parses and validates against its schema, over many schemas, prompts and seeds; cached ==
 * reference under a grammar on a real ORT model; bad formats are 400s naming the field.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import OpenAI from 'openai';
import { generate, type BlockRunner } from '../decode/index.ts';
import { GrammarService } from '../grammar/index.ts';
import type { TextCodec } from '../model/text-codec.ts';
import { createApiApp } from './app.ts';
import { staticRegistry } from './engine.ts';
import { runnerEngine } from './runner-engine.ts';
import { StaticTenantStore, openTenant, unlimited } from './single-tenant.ts';
import { modelCodec, openModel } from '../../backends/node/open-model.ts';
import { nodeXGrammar } from '../../backends/node/xgrammar-node.ts';
import { tinyFixture, type Fixture } from '../../test/fixtures/export.ts';
import { SCHEMAS, schemaValidator } from '../../test/fixtures/schemas.ts';

const KEY = 'sk-structured';
const PROMPTS = ['give me json', 'sort: dcba', 'add: 12+7', 'describe a person', 'hello'];

describe('structured output through the API (ORT-node, xgrammar)', () => {
  let fx: Fixture;
  let tiny: { runner: BlockRunner; codec: TextCodec };
  let client: OpenAI;
  let bare: OpenAI;
  const grammar = new GrammarService({ runtime: nodeXGrammar });
  const validate = schemaValidator();

  before(async () => {
    fx = await tinyFixture({ seed: 43 });
    const dir = await fx.pkg('tiny', { blockLength: 8 });
    const local = await openModel(dir);
    tiny = { runner: local.runner, codec: modelCodec(local) };
    const demoDir = resolve('assets/demo-model');
    const demo = await openModel(demoDir);
    const demoCodec = modelCodec(demo);
    const engines = staticRegistry([
      runnerEngine({ id: 'tiny', backend: 'node', load: async () => tiny }),
      runnerEngine({
        id: 'demo',
        backend: 'node',
        load: async () => ({ runner: demo.runner, codec: demoCodec }),
      }),
    ]);
    const tenants = new StaticTenantStore({ [KEY]: openTenant('t', {}) });
    const make = (withGrammar: boolean) => {
      const app = createApiApp({
        engines,
        tenants,
        limiter: unlimited,
        ...(withGrammar ? { grammar } : {}),
      });
      return new OpenAI({
        apiKey: KEY,
        baseURL: 'http://unmask.test/v1',
        maxRetries: 0,
        fetch: async (url, init) => app.fetch(new Request(url as string, init)),
      });
    };
    client = make(true);
    bare = make(false);
  });
  after(() => fx.cleanup());

  for (const model of ['tiny', 'demo']) {
    test(`${model}: every finished json_schema output parses and validates (schemas × prompts × seeds)`, async () => {
      let validated = 0;
      let truncated = 0;
      for (const [name, schema] of Object.entries(SCHEMAS)) {
        for (let i = 0; i < PROMPTS.length; i++) {
          const sampled = i % 2 === 1;
          const res = await client.chat.completions.create({
            model,
            messages: [{ role: 'user', content: PROMPTS[i] }],
            max_tokens: 160,
            ...(sampled ? { temperature: 0.8, seed: 100 + i } : {}),
            response_format: { type: 'json_schema', json_schema: { name, schema, strict: true } },
          });
          const { content } = res.choices[0].message;
          if (res.choices[0].finish_reason !== 'stop') {
            truncated++;
            continue;
          }
          const value = JSON.parse(content ?? '');
          assert.equal(validate(schema, value), null, `${model} ${name}: ${content}`);
          validated++;
        }
      }
      const total = Object.keys(SCHEMAS).length * PROMPTS.length;
      console.log(`${model}: ${validated}/${total} validated, ${truncated} hit max_tokens`);
      assert.ok(validated >= 0.6 * total, `${validated} of ${total} finished`);
    });
  }

  test('json_object, streamed and n = 2: the joined deltas of each choice are one JSON object', async () => {
    const stream = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'an object please' }],
      max_tokens: 120,
      n: 2,
      temperature: 0.9,
      seed: 3,
      stream: true,
      response_format: { type: 'json_object' },
    });
    const text = ['', ''];
    const finish: (string | null)[] = [null, null];
    for await (const chunk of stream)
      for (const c of chunk.choices) {
        text[c.index] += c.delta.content ?? '';
        finish[c.index] ??= c.finish_reason;
      }
    for (let i = 0; i < 2; i++) {
      if (finish[i] !== 'stop') continue;
      const value = JSON.parse(text[i]);
      assert.ok(value && typeof value === 'object' && !Array.isArray(value), text[i]);
    }
  });

  test('completions take response_format too', async () => {
    const res = await client.completions.create({
      model: 'demo',
      prompt: 'sort: cab',
      max_tokens: 120,
      // @ts-expect-error: the openai client does not type response_format on completions
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'flags', schema: SCHEMAS.flags },
      },
    });
    if (res.choices[0].finish_reason === 'stop')
      assert.equal(validate(SCHEMAS.flags, JSON.parse(res.choices[0].text)), null);
  });

  test('cached == reference under a grammar on the ORT model', async () => {
    for (const [name, schema] of Object.entries(SCHEMAS).slice(0, 4)) {
      const constraint = await grammar.constraintFor(
        { type: 'json_schema', json_schema: { name, schema } },
        { codec: tiny.codec, info: tiny.runner.info },
      );
      const prompt = tiny.codec.encode(`a longer prompt for the schema ${name}, please`);
      for (const temperature of [0, 0.7]) {
        const opts = { maxTokens: 48, temperature, seed: 9, constraint: constraint! };
        const ref = await generate(tiny.runner, prompt, { ...opts, mode: 'reference' });
        const cached = await generate(tiny.runner, prompt, { ...opts, mode: 'cached' });
        assert.deepEqual(cached.tokens, ref.tokens, `${name} T=${temperature}`);
        const prefill = prompt.length >= tiny.runner.info.blockLength ? 1 : 0;
        assert.equal(
          cached.stats.forwards,
          ref.stats.forwards + prefill,
          'cached adds its prefill',
        );
      }
    }
  });

  const errors: [string, Record<string, unknown>, string, string][] = [
    [
      'unknown type',
      { response_format: { type: 'yaml' } },
      'response_format.type',
      'invalid_response_format',
    ],
    [
      'unsupported keyword',
      { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { not: {} } } } },
      'response_format.json_schema.schema',
      'unsupported_parameter',
    ],
    [
      'a strategy with a grammar',
      { strategy: 'hierarchy', response_format: { type: 'json_object' } },
      'strategy',
      'null',
    ],
    ['not an object', { response_format: 'json' }, 'response_format', 'null'],
  ];
  for (const [label, extra, param, code] of errors) {
    test(`400 naming the field: ${label}`, async () => {
      await assert.rejects(
        client.chat.completions.create({
          model: 'tiny',
          messages: [{ role: 'user', content: 'x' }],
          ...(extra as object),
        } as never),
        (e: unknown) =>
          e instanceof OpenAI.BadRequestError &&
          (e.error as { param?: string }).param === param &&
          String((e.error as { code?: string | null }).code) === code,
      );
    });
  }

  test('a server without a grammar engine refuses structured output (and still accepts text)', async () => {
    const messages = [{ role: 'user' as const, content: 'x' }];
    await assert.rejects(
      bare.chat.completions.create({
        model: 'tiny',
        messages,
        response_format: { type: 'json_object' },
      }),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError &&
        (e.error as { param?: string }).param === 'response_format',
    );
    const ok = await bare.chat.completions.create({
      model: 'tiny',
      messages,
      max_tokens: 4,
      response_format: { type: 'text' },
    });
    assert.equal(ok.object, 'chat.completion');
  });
});
