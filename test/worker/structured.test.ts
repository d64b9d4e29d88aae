/**
 * Structured output in workerd: the built Worker (wrangler, CompiledWasm xgrammar.wasm, no runtime wasm compile)
 * serves json_schema and json_object on the demo model; every finished output parses and validates; a schema that
 * makes xgrammar's wasm abort is a 400 and the isolate keeps serving structured output afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import {
  buildWorker,
  seedPackage,
  startWorker,
  type BuiltWorker,
  type RunningWorker,
} from '../../backends/node/worker-harness.ts';
import { SCHEMAS, schemaValidator } from '../fixtures/schemas.ts';

const MODEL = 'unmask-demo';

interface ChatBody {
  choices: { finish_reason: string; message: { content: string } }[];
  error: { param: string };
}

describe('structured output in workerd', () => {
  let built: BuiltWorker;
  let worker: RunningWorker;
  let key: string;
  const validate = schemaValidator();

  const chat = async (body: Record<string, unknown>) => {
    const res = await worker.fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: MODEL, max_tokens: 160, ...body }),
    });
    return { status: res.status, body: (await res.json()) as ChatBody };
  };

  before(async () => {
    built = await buildWorker();
    worker = await startWorker(built, { edgeModel: MODEL, prefix: MODEL });
    await seedPackage(worker, resolve('assets/demo-model'));
    const tenant = await worker.post('/admin/tenants', { name: 'structured' });
    const created = await worker.post(`/admin/tenants/${tenant.body.id}/keys`, {});
    key = created.body.key as string;
  });
  after(async () => {
    await worker?.dispose();
    await built?.cleanup();
  });

  test('every finished json_schema output validates', async () => {
    let validated = 0;
    for (const [name, schema] of Object.entries(SCHEMAS)) {
      for (const [i, content] of ['sort: bca', 'add: 3+4', 'json please'].entries()) {
        const { status, body } = await chat({
          messages: [{ role: 'user', content }],
          ...(i === 1 ? { temperature: 0.7, seed: 5 } : {}),
          response_format: { type: 'json_schema', json_schema: { name, schema, strict: true } },
        });
        assert.equal(status, 200, JSON.stringify(body));
        const choice = body.choices[0];
        if (choice.finish_reason !== 'stop') continue;
        assert.equal(
          validate(schema, JSON.parse(choice.message.content)),
          null,
          choice.message.content,
        );
        validated++;
      }
    }
    console.log(`workerd: ${validated}/${Object.keys(SCHEMAS).length * 3} validated`);
    assert.ok(validated >= 0.6 * Object.keys(SCHEMAS).length * 3);
  });

  test('a wasm abort is a 400, and the isolate serves structured output afterwards', async () => {
    for (let i = 0; i < 5; i++) {
      const bad = await chat({
        messages: [{ role: 'user', content: 'x' }],
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'x', schema: { type: 'string', pattern: 'a**' } },
        },
      });
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      assert.equal(bad.body.error.param, 'response_format.json_schema.schema');
    }
    const { status, body } = await chat({
      messages: [{ role: 'user', content: 'an object' }],
      response_format: { type: 'json_object' },
    });
    assert.equal(status, 200, JSON.stringify(body));
    if (body.choices[0].finish_reason === 'stop') {
      const value = JSON.parse(body.choices[0].message.content);
      assert.ok(value && typeof value === 'object' && !Array.isArray(value));
    }
  });
});
