/**
 * Decoding under a grammar (constrained-step.ts): the run rule on scripted rows, the stop and length ends, and the
 * property that cached == reference and every output follows the grammar, over random requests on the toy model.
 */
import { assert, test } from './testing/harness.ts';
import { onlyAllowed } from './constrained-step.ts';
import { decode } from './decode.ts';
import { DecodeOptionsError } from './errors.ts';
import type { DecodeOptions } from './options.ts';
import { planDecode } from './plan.ts';
import { Xoshiro128 } from './prng.ts';
import { collect } from './testing/collect.ts';
import { CLOSE, OPEN, parenPrefix, parenSource, validParens } from './testing/paren-grammar.ts';
import { ScriptedRunner, SCRIPTED_INFO, table } from './testing/scripted-runner.ts';
import { ToyRunner } from './testing/toy-runner.ts';

const { vocabSize: V, eosId: EOS } = SCRIPTED_INFO;
const A = 3; // a letter
type Row = readonly [number, number];

for (const mode of ['reference', 'cached'] as const) {
  test(`${mode}: a confident run the grammar accepts commits in one step; the frontier takes the best allowed token`, async () => {
    // Position 4 wants the letter A (not allowed first): the frontier takes "(", the best allowed token.
    const rows: Record<number, Row> = {
      4: [A, 0.99],
      5: [A, 0.99],
      6: [CLOSE, 0.99],
      7: [EOS, 0.99],
    };
    const { source, started } = parenSource(V, EOS);
    const runner = new ScriptedRunner(table((p) => rows[p]));
    const { steps, result } = await collect(
      decode(runner, [5, 5, 5, 5], { maxTokens: 8, mode, constraint: source }),
    );
    assert.deepEqual(result.tokens, [OPEN, A, CLOSE, EOS]);
    assert.equal(result.finishReason, 'stop');
    assert.equal(steps.length, 1);
    assert.deepEqual(
      steps[0].committed.map((c) => c.token),
      [OPEN, A, CLOSE, EOS],
    );
    assert.ok(steps[0].committed[0].confidence < 0.01, 'the frontier token had a low probability');
    const steps4 = runner.calls.filter((c) => c.positions.includes(4));
    assert.ok(
      steps4.every((c) => c.wantLogits),
      'logits are fetched while a grammar is active',
    );
    assert.equal(started.length, 1);
    assert.ok(started[0].disposed);
  });

  test(`${mode}: the run ends at the first token the grammar refuses; what follows stays masked`, async () => {
    // Forward 0: "(" ")" then a letter outside the group (refused) and a confident EOS after it (not reached).
    // Forward 1 sees the run and predicts EOS at 6.
    const first: Record<number, Row> = {
      4: [OPEN, 0.99],
      5: [CLOSE, 0.99],
      6: [A, 0.99],
      7: [EOS, 0.99],
    };
    const second: Record<number, Row> = { 6: [EOS, 0.99], 7: [EOS, 0.99] };
    const { source } = parenSource(V, EOS);
    const runner = new ScriptedRunner(table((p, call) => (call.index === 0 ? first : second)[p]));
    const { steps, result } = await collect(
      decode(runner, [5, 5, 5, 5], { maxTokens: 8, mode: 'reference', constraint: source }),
    );
    assert.deepEqual(
      steps.map((s) => s.committed.map((c) => c.index)),
      [[0, 1], [2]],
    );
    assert.deepEqual(steps[0].masked, [2, 3]);
    assert.deepEqual(result.tokens, [OPEN, CLOSE, EOS]);
    assert.equal(result.finishReason, 'stop');
  });

  test(`${mode}: below the threshold only the frontier commits, one token per step, across blocks`, async () => {
    const { source, started } = parenSource(V, EOS);
    // Every row: A at 0.5. The frontier's best allowed token is "(" first, then A (inside the group).
    const runner = new ScriptedRunner(table(() => [A, 0.5]));
    const { steps, result } = await collect(
      decode(runner, [5, 5], { maxTokens: 6, mode, constraint: source }),
    );
    assert.ok(steps.every((s) => s.committed.length === 1));
    assert.equal(result.tokens.length, 6);
    assert.equal(result.finishReason, 'length');
    assert.deepEqual(result.tokens, [OPEN, A, A, A, A, A]);
    assert.ok(parenPrefix(result.tokens, V, EOS));
    assert.ok(started[0].disposed);
  });
}

test('a token the grammar forces joins the run without the model (confidence 1)', async () => {
  // Depth 1, no letters: after "(" only ")" is allowed. Rows want A at 0.5 everywhere.
  const { source } = parenSource(V, EOS, 1, 0);
  const runner = new ScriptedRunner(table(() => [A, 0.5]));
  const { steps } = await collect(
    decode(runner, [5, 5, 5, 5], { maxTokens: 8, mode: 'cached', constraint: source }),
  );
  assert.deepEqual(
    steps[0].committed.map((c) => [c.token, c.confidence]),
    [
      [OPEN, steps[0].committed[0].confidence],
      [CLOSE, 1],
    ],
  );
});

test('onlyAllowed finds the single allowed token, any bit position', () => {
  for (const t of [0, 5, 31, 32, 63, 100]) {
    const mask = new Int32Array(4);
    mask[t >>> 5] |= 1 << (t & 31);
    assert.equal(onlyAllowed(mask), t);
    mask[3] |= 1 << 30;
    assert.equal(onlyAllowed(mask), t === 126 ? t : -1);
  }
  assert.equal(onlyAllowed(new Int32Array(4)), -1);
});

test('reaching max_tokens ends the block without decoding its tail', async () => {
  const { source } = parenSource(V, EOS);
  const runner = new ScriptedRunner(table(() => [A, 0.5]));
  const { steps, result } = await collect(
    decode(runner, [5, 5, 5, 5], { maxTokens: 2, mode: 'cached', constraint: source }),
  );
  assert.deepEqual(result.tokens, [OPEN, A]);
  assert.equal(result.finishReason, 'length');
  assert.equal(steps.length, 2, 'positions past max_tokens take no step');
});

test('the plan refuses a strategy and a step budget the grammar cannot keep, and asks for logits', () => {
  const { source } = parenSource(V, EOS);
  assert.throws(
    () => planDecode(SCRIPTED_INFO, [1, 2], { constraint: source, algorithm: 'hierarchy' }),
    (e: unknown) => e instanceof DecodeOptionsError && e.option === 'algorithm',
  );
  assert.throws(
    () => planDecode(SCRIPTED_INFO, [1, 2], { constraint: source, steps: 2 }),
    (e: unknown) => e instanceof DecodeOptionsError && e.option === 'steps',
  );
  assert.equal(
    planDecode(SCRIPTED_INFO, [1, 2], { constraint: source, steps: 4 }).wantLogits,
    true,
  );
  assert.equal(planDecode(SCRIPTED_INFO, [1, 2], {}).wantLogits, false);
});

test('an abort mid-generation still disposes the grammar', async () => {
  const { source, started } = parenSource(V, EOS);
  const ac = new AbortController();
  const runner = new ScriptedRunner(table(() => [A, 0.5]));
  runner.onForward = (call) => call.index === 1 && ac.abort();
  const { result } = await collect(
    decode(runner, [5, 5], { maxTokens: 8, constraint: source, signal: ac.signal }),
  );
  assert.equal(result.finishReason, 'aborted');
  assert.ok(started[0].disposed);
});

const SAMPLERS: DecodeOptions[] = [
  {},
  { temperature: 0.8 },
  { temperature: 1.2, topK: 3 },
  { temperature: 0.7, topP: 0.8 },
];

test('cached == reference under a grammar, and every output follows it (random requests, toy model)', async () => {
  const rng = new Xoshiro128(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.nextFloat() * xs.length)];
  const tally = { cases: 0, stop: 0, length: 0, multi: 0 };
  for (const B of [4, 8]) {
    for (let rep = 0; rep < 24; rep++) {
      const P = 1 + Math.floor(rng.nextFloat() * 2 * B);
      const options: DecodeOptions = {
        ...pick(SAMPLERS),
        maxTokens: 4 + Math.floor(rng.nextFloat() * 4 * B),
        blockLength: B,
        threshold: pick([0.3, 0.6, 0.9]),
        eosEarlyStop: pick([false, true]),
        seed: Math.floor(rng.nextFloat() * 1e9),
      };
      const toy = { seed: pick([1, 2, 3]), eosBias: pick([2, 5]) };
      const [depth, letters] = pick([
        [1, 2],
        [2, 3],
        [3, 40],
      ] as const);
      const eos = 46;
      const prompt = Array.from({ length: P }, () => Math.floor(rng.nextFloat() * 46));
      const label = JSON.stringify({ P, toy, ...options });
      const outputs = [];
      for (const mode of ['reference', 'cached'] as const) {
        const { source, started } = parenSource(48, eos, depth, letters);
        const runner = new ToyRunner(toy);
        const run = await collect(decode(runner, prompt, { ...options, mode, constraint: source }));
        assert.equal(started.length, 1, label);
        assert.ok(started[0].disposed, label);
        assert.equal(runner.live, 0, `K/V leak: ${label}`);
        outputs.push(run);
      }
      const [ref, cached] = outputs;
      assert.deepEqual(cached.result.tokens, ref.result.tokens, label);
      assert.deepEqual(cached.steps, ref.steps, label);
      assert.equal(cached.result.finishReason, ref.result.finishReason, label);
      const { tokens, finishReason } = ref.result;
      if (finishReason === 'stop')
        assert.ok(validParens(tokens, 48, eos, depth, letters), `invalid: ${label} ${tokens}`);
      else
        assert.ok(parenPrefix(tokens, 48, eos, depth, letters), `not a prefix: ${label} ${tokens}`);
      tally.cases++;
      tally[finishReason as 'stop' | 'length']++;
      for (const s of ref.steps) if (s.committed.length > 1) tally.multi++;
    }
  }
  for (const key of ['stop', 'length', 'multi'] as const)
    assert.ok(tally[key] > 0, `${key}: ${JSON.stringify(tally)}`);
});
