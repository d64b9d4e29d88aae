/** Token log-probabilities at the commit step (options.logprobs), with a scripted runner of known probabilities. */
import { assert, test } from './testing/harness.ts';
import { decode } from './decode.ts';
import { DecodeOptionsError } from './errors.ts';
import { collect } from './testing/collect.ts';
import { ScriptedRunner, peaked } from './testing/scripted-runner.ts';

const PROMPT = [1, 2, 3, 4]; // B = 4: the decode block is positions 4..7
const close = (a: number, b: number) => Math.abs(a - b) < 1e-5;

/** Position p → token p + 1; its probability depends on the forward (the step), so commit steps differ. */
function stepwise(probs: (position: number, forward: number) => number) {
  return new ScriptedRunner((position, _token, call) =>
    peaked(16, position + 1, probs(position, call.index), { token: 0, prob: 0.01 }),
  );
}

for (const mode of ['reference', 'cached'] as const) {
  test(`${mode}: each token's logprob is its probability at the step that committed it`, async () => {
    // Forward f (after the prefill in cached mode): position 4 sure from the start, the others later.
    const offset = mode === 'cached' ? 1 : 0;
    const runner = stepwise((p, f) => (p === 4 || f - offset >= p - 4 ? 0.9 + 0.01 * p : 0.3));
    const { blocks, steps } = await collect(
      decode(runner, PROMPT, { maxTokens: 4, threshold: 0.5, mode, logprobs: 2 }),
    );
    const lp = blocks.flatMap((b) => b.logprobs ?? []);
    assert.equal(lp.length, 4);
    for (let i = 0; i < 4; i++) {
      assert.ok(
        close(lp[i].logprob, Math.log(0.9 + 0.01 * (i + 4))),
        `position ${i}: ${lp[i].logprob}`,
      );
      assert.equal(lp[i].top.length, 2);
      assert.equal(lp[i].top[0].token, i + 5);
      assert.ok(close(lp[i].top[0].logprob, lp[i].logprob));
      assert.ok(lp[i].top[1].logprob <= lp[i].top[0].logprob);
    }
    // The same values ride on the step events, where each token was committed.
    const fromSteps = steps.flatMap((s) => s.committed.map((c) => c.logprob!.logprob));
    assert.equal(fromSteps.length, 4);
  });
}

test('a later step’s probability is not the one reported: the commit step’s is', async () => {
  // Position 5 is 0.2 until it is committed (quota forces one commit per step), 0.99 on later forwards.
  const runner = stepwise((p, f) => (p === 5 ? (f === 0 ? 0.2 : 0.99) : 0.97));
  const { blocks, steps } = await collect(
    decode(runner, PROMPT, { maxTokens: 4, threshold: 0.9, mode: 'reference', logprobs: 0 }),
  );
  const at5 = steps.find((s) => s.committed.some((c) => c.index === 1))!;
  const lp = blocks.flatMap((b) => b.logprobs ?? []);
  assert.ok(
    close(lp[1].logprob, Math.log(at5.step === 0 ? 0.2 : 0.99)),
    `committed at step ${at5.step}, logprob ${lp[1].logprob}`,
  );
  assert.deepEqual(lp[1].top, []);
});

test('sampling: the logprob is under the model, not the tempered distribution; off by default', async () => {
  const runner = stepwise(() => 0.6);
  const sampled = await collect(
    decode(runner, PROMPT, {
      maxTokens: 4,
      temperature: 0.5,
      seed: 3,
      logprobs: 1,
      threshold: 0.1,
    }),
  );
  for (const [i, t] of sampled.result.tokens.entries()) {
    const entry = sampled.blocks[0].logprobs![i];
    if (t === PROMPT.length + i + 1) assert.ok(close(entry.logprob, Math.log(0.6)));
  }
  const plain = await collect(decode(runner, PROMPT, { maxTokens: 4 }));
  assert.equal(plain.blocks[0].logprobs, undefined);
});

test('logprobs above the head’s k is refused before any forward', () => {
  const runner = stepwise(() => 0.9);
  assert.throws(
    () => decode(runner, PROMPT, { maxTokens: 4, logprobs: 5 }),
    (e: unknown) => e instanceof DecodeOptionsError && e.option === 'logprobs',
  );
  assert.equal(runner.forwards, 0);
});
