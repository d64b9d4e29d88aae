/** Validation happens before any forward and names the offending option. */
import { assert, test } from './testing/harness.ts';
import { decode, generate } from './decode.ts';
import { DecodeOptionsError } from './errors.ts';
import type { DecodeOptions } from './options.ts';
import { planDecode } from './plan.ts';
import { ScriptedRunner, SCRIPTED_INFO, table } from './testing/scripted-runner.ts';

const runner = (maxPositions = 256): ScriptedRunner =>
  new ScriptedRunner(
    table(() => [1, 0.9]),
    { maxPositions },
  );

const BAD: [string, DecodeOptions, ArrayLike<number>?][] = [
  ['blockLength', { blockLength: 0 }],
  ['blockLength', { blockLength: -4 }],
  ['blockLength', { blockLength: 2.5 }],
  ['threshold', { threshold: 0 }],
  ['threshold', { threshold: 1.01 }],
  ['threshold', { threshold: Number.NaN }],
  ['steps', { steps: 0 }],
  ['maxTokens', { maxTokens: 0 }],
  ['maxTokens', { maxTokens: 1.5 }],
  ['maxTokens', { maxTokens: 250 }], // 3 + 250 padded to 256 > 252
  ['topP', { topP: 0 }],
  ['topP', { topP: 1.2 }],
  ['temperature', { temperature: -0.1 }],
  ['temperature', { temperature: Number.POSITIVE_INFINITY }],
  ['topK', { topK: -1 }],
  ['topK', { topK: 1.5 }],
  ['minimalTopk', { minimalTopk: 0 }],
  ['minimalTopk', { maxTokens: 2, minimalTopk: 3 }],
  ['seed', { seed: 0.5 }],
  ['mode', { mode: 'fast' as never }],
  ['algorithm', { algorithm: 'nope' }],
  [
    'algorithmParams.low_threshold',
    { algorithm: 'hierarchy', algorithmParams: { low_threshold: 2 } },
  ],
  ['algorithmParams.bogus', { algorithmParams: { bogus: 1 } }],
  ['algorithmParams.exact', { algorithm: 'entropy_threshold', algorithmParams: { exact: 1 } }],
  ['promptIds', {}, [1, 16]],
  ['promptIds', {}, [1, -1]],
  ['promptIds', {}, [1, 2.5]],
  ['promptIds', {}, [SCRIPTED_INFO.maskId]],
];

test('bad options throw DecodeOptionsError naming the option, before any forward', async () => {
  for (const [param, options, prompt = [1, 2, 3]] of BAD) {
    const r = runner(252);
    assert.throws(
      () => planDecode(r.info, prompt, { maxTokens: 8, ...options }),
      (e: unknown) => {
        assert.ok(e instanceof DecodeOptionsError, `${param}: ${String(e)}`);
        assert.equal(e.param, param);
        return true;
      },
    );
    assert.throws(() => decode(r, prompt, { maxTokens: 8, ...options }), DecodeOptionsError);
    await assert.rejects(generate(r, prompt, { maxTokens: 8, ...options }), DecodeOptionsError);
    assert.equal(r.forwards, 0);
  }
});

test('an unknown algorithm lists the known ones', () => {
  assert.throws(
    () => planDecode(SCRIPTED_INFO, [1], { algorithm: 'nope' }),
    /known: low_confidence, hierarchy, factor, entropy_threshold/,
  );
});

test('the padded canvas, not P + G, is checked against maxPositions', () => {
  const info = { ...SCRIPTED_INFO, maxPositions: 12 };
  assert.doesNotThrow(() => planDecode(info, [1, 2, 3], { maxTokens: 9 })); // 12 positions
  assert.throws(() => planDecode(info, [1, 2, 3], { maxTokens: 10 }), DecodeOptionsError); // 13 → 16
});

test('defaults: block length from the runner, HF steps 32, greedy, cached, low_confidence', () => {
  const plan = planDecode({ ...SCRIPTED_INFO, blockLength: 8 }, [1, 2, 3], {});
  assert.equal(plan.layout.blockLength, 8);
  assert.equal(plan.layout.steps, 32);
  assert.deepEqual(plan.layout.schedule.slice(6, 10), [1, 1, 0, 0]);
  assert.equal(plan.layout.maxTokens, 256 - 3); // 2048 does not fit 256 positions
  assert.equal(
    planDecode({ ...SCRIPTED_INFO, maxPositions: 32768 }, [1], {}).layout.maxTokens,
    2048,
  );
  assert.throws(
    () => planDecode({ ...SCRIPTED_INFO, maxPositions: 4 }, [1, 2, 3, 4], {}),
    /no room/,
  );
  assert.equal(plan.threshold, 0.95);
  assert.equal(plan.source, 'greedy');
  assert.equal(plan.mode, 'cached');
  assert.equal(plan.algorithm.name, 'low_confidence');
  assert.ok(Number.isSafeInteger(plan.seed));
});

test('an empty prompt is allowed (HF allows it; never use it for parity)', async () => {
  const r = runner();
  const result = await generate(r, [], { maxTokens: 4 });
  assert.equal(result.tokens.length, 4);
});
