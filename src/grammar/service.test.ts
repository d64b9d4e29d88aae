/**
 * The grammar service on xgrammar (Node loader) with the demo model's tokenizer: random walks over the allowed
 * tokens (the grammar doing all the work) give text that parses and validates against each test schema; the policy
 * refuses what xgrammar cannot enforce; a wasm abort is recovered from; the compiled-grammar cache is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { allows, type TokenConstraint } from '../decode/index.ts';
import { TextCodec } from '../model/text-codec.ts';
import { nodeXGrammar } from '../../backends/node/xgrammar-node.ts';
import { SCHEMAS, schemaValidator } from '../../test/fixtures/schemas.ts';
import { Xoshiro128 } from '../decode/prng.ts';
import { GrammarError } from './errors.ts';
import { GrammarService } from './service.ts';

const DEMO = new URL('../../assets/demo-model/', import.meta.url);
const json = async (f: string) => JSON.parse(await readFile(new URL(f, DEMO), 'utf8'));
const codec = new TextCodec(await json('tokenizer.json'), await json('tokenizer_config.json'));
const config = (await json('config.json')) as { vocab_size: number; eos_token_id: number };
const info = { vocabSize: config.vocab_size, eosId: config.eos_token_id };
const model = { codec, info };
const service = new GrammarService({ runtime: nodeXGrammar });
const validate = schemaValidator();

/** Random allowed tokens; the stop token half the time once it is allowed. */
async function walk(c: TokenConstraint, rng: Xoshiro128, maxSteps = 400): Promise<number[] | null> {
  const ids: number[] = [];
  try {
    while (!c.isTerminated()) {
      if (ids.length >= maxSteps) return null;
      const mask = await c.allowed();
      const allowed = [];
      for (let t = 0; t < info.vocabSize; t++) if (allows(mask, t)) allowed.push(t);
      assert.ok(allowed.length > 0, 'the grammar allows no token');
      const t =
        allowed.includes(info.eosId) && rng.nextFloat() < 0.5
          ? info.eosId
          : allowed[Math.floor(rng.nextFloat() * allowed.length)];
      assert.equal(c.accept(t), true);
      ids.push(t);
    }
    return ids;
  } finally {
    c.dispose();
  }
}

test('random walks through every test schema give JSON that validates', async () => {
  const rng = new Xoshiro128(11);
  let valid = 0;
  let unfinished = 0;
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    const source = await service.constraintFor(
      { type: 'json_schema', json_schema: { name, schema, strict: true } },
      model,
    );
    assert.ok(source);
    for (let r = 0; r < 60; r++) {
      const ids = await walk(await source.start(), rng);
      if (!ids) {
        unfinished++;
        continue;
      }
      const text = codec.decode(ids);
      const value = JSON.parse(text);
      assert.equal(validate(schema, value), null, `${name}: ${text}`);
      valid++;
    }
  }
  assert.ok(
    valid >= 0.9 * 60 * Object.keys(SCHEMAS).length,
    `valid ${valid}, unfinished ${unfinished}`,
  );
});

test('json_object: a JSON object, never an array or a scalar', async () => {
  const source = await service.constraintFor({ type: 'json_object' }, model);
  assert.ok(source);
  const rng = new Xoshiro128(3);
  for (let r = 0; r < 40; r++) {
    const ids = await walk(await source.start(), rng);
    if (!ids) continue;
    const value = JSON.parse(codec.decode(ids));
    assert.equal(typeof value, 'object');
    assert.ok(value !== null && !Array.isArray(value));
  }
});

test('text and absent formats need no grammar', async () => {
  assert.equal(await service.constraintFor(undefined, model), null);
  assert.equal(await service.constraintFor({ type: 'text' }, model), null);
});

const refusals: [string, unknown, RegExp, string][] = [
  ['not', { not: { type: 'string' } }, /"not" is not supported/, 'unsupported'],
  ['multipleOf', { type: 'integer', multipleOf: 3 }, /multipleOf/, 'unsupported'],
  ['number bounds', { type: 'number', minimum: 1.5 }, /integer/, 'unsupported'],
  ['format', { type: 'string', format: 'email' }, /supported formats/, 'unsupported'],
  ['dot pattern', { type: 'string', pattern: '^.+$' }, /pattern/, 'unsupported'],
  ['missing required', { type: 'object', properties: {}, required: ['a'] }, /"a"/, 'unsupported'],
  ['bad ref', { $ref: 'http://x/y' }, /\$ref/, 'unsupported'],
  ['bad type', { type: 'text' }, /type/, 'invalid'],
];

for (const [label, schema, message, kind] of refusals) {
  test(`refused before compiling: ${label}`, async () => {
    await assert.rejects(
      service.constraintFor({ type: 'json_schema', json_schema: { name: 'x', schema } }, model),
      (e: unknown) =>
        e instanceof GrammarError &&
        message.test(e.message) &&
        e.kind === kind &&
        e.param === 'response_format.json_schema.schema',
    );
  });
}

test('malformed response_format values name their field', async () => {
  const bad: [unknown, string][] = [
    [{ type: 'yaml' }, 'response_format.type'],
    [{ type: 'json_schema' }, 'response_format.json_schema'],
    [
      { type: 'json_schema', json_schema: { name: 'a b', schema: {} } },
      'response_format.json_schema.name',
    ],
    [
      { type: 'json_schema', json_schema: { name: 'a', schema: [] } },
      'response_format.json_schema.schema',
    ],
    ['json', 'response_format'],
  ];
  for (const [value, param] of bad)
    await assert.rejects(
      service.constraintFor(value, model),
      (e: unknown) => e instanceof GrammarError && e.param === param,
    );
});

test('a length bound too costly for the vocabulary is refused with the limit', async () => {
  const big = { codec, info: { vocabSize: 157_184, eosId: info.eosId } };
  await assert.rejects(
    service.constraintFor(
      {
        type: 'json_schema',
        json_schema: { name: 'x', schema: { type: 'string', maxLength: 100 } },
      },
      big,
    ),
    (e: unknown) => e instanceof GrammarError && /allows 8/.test(e.message),
  );
});

test('a wasm abort is a 400-style error, and the engine keeps working after many', async () => {
  const local = new GrammarService({ runtime: nodeXGrammar });
  // Passes the policy, but xgrammar's regex parser rejects it (and aborts).
  const aborting = {
    type: 'json_schema',
    json_schema: { name: 'x', schema: { type: 'string', pattern: 'a**' } },
  };
  for (let i = 0; i < 40; i++)
    await assert.rejects(
      local.constraintFor(aborting, model),
      (e: unknown) =>
        e instanceof GrammarError && /rejected/.test(e.message) && !/\.cc/.test(e.message),
    );
  assert.equal(local.resets, 40);
  const ok = await local.constraintFor({ type: 'json_object' }, model);
  const ids = await walk(await ok!.start(), new Xoshiro128(1));
  assert.ok(ids === null || typeof JSON.parse(codec.decode(ids)) === 'object');
});

test('the compiled-grammar cache is bounded and reused', async () => {
  const local = new GrammarService({ runtime: nodeXGrammar, maxCompiled: 4 });
  for (let i = 0; i < 12; i++) {
    const schema = {
      type: 'object',
      properties: { [`k${i}`]: { type: 'integer' } },
      required: [`k${i}`],
    };
    const source = await local.constraintFor(
      { type: 'json_schema', json_schema: { name: 'x', schema } },
      model,
    );
    (await source!.start()).dispose();
  }
  assert.equal(local.cachedGrammars, 4);
  local.clear();
  assert.equal(local.cachedGrammars, 0);
});
