/** Golden tests of streaming control (abort, break), seeds, runner inputs per mode, and stats. */
import { assert, test } from './testing/harness.ts';
import { decode, generate } from './decode.ts';
import { collect } from './testing/collect.ts';
import { ScriptedRunner, table } from './testing/scripted-runner.ts';
import { blockCausalVisibility } from './visibility.ts';

// Confidence 0.5 everywhere: one commit per step, B = 4 steps per block.
const slow = (): ScriptedRunner => new ScriptedRunner(table((p) => [p % 10, 0.5]));
const PROMPT = [1, 2, 3, 4, 5, 6];

for (const mode of ['reference', 'cached'] as const) {
  test(`${mode}: after abort no forward starts; the result says 'aborted'`, async () => {
    const runner = slow();
    const ac = new AbortController();
    runner.onForward = (call) => {
      if (call.index === 5) ac.abort();
    };
    const { blocks, result } = await collect(
      decode(runner, PROMPT, { maxTokens: 12, mode, signal: ac.signal }),
    );
    assert.equal(runner.forwards, 6);
    assert.equal(result.stats.forwards, 6);
    assert.equal(result.finishReason, 'aborted');
    assert.deepEqual(
      result.tokens,
      blocks.flatMap((b) => b.tokens),
    );
  });

  test(`${mode}: an already aborted signal runs no forward at all`, async () => {
    const runner = slow();
    const result = await generate(runner, PROMPT, {
      maxTokens: 8,
      mode,
      signal: AbortSignal.abort(),
    });
    assert.equal(runner.forwards, 0);
    assert.equal(result.finishReason, 'aborted');
    assert.deepEqual(result.tokens, []);
  });

  test(`${mode}: breaking out after a block stops all forwards`, async () => {
    const runner = slow();
    let seen = 0;
    for await (const ev of decode(runner, PROMPT, { maxTokens: 12, mode })) {
      if (ev.type === 'block') {
        seen = runner.forwards;
        break;
      }
    }
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(runner.forwards, seen);
    assert.equal(seen, mode === 'cached' ? 3 : 2); // block 1 holds 2 masks (P = 6)
  });
}

test('cached mode: prefill, per-step and fused commit forwards have the documented shapes', async () => {
  const runner = slow();
  await generate(runner, PROMPT, { maxTokens: 10, mode: 'cached' }); // P = 6, B = 4: blocks 1, 2, 3
  const shape = runner.calls.map((c) => [
    c.pastLength,
    c.ids.length,
    c.positions[0],
    c.wantPresent,
  ]);
  assert.deepEqual(shape, [
    [0, 4, 0, true], // prefill: the one complete prompt block
    [4, 4, 4, false], // block 1 (prompt tail + 2 masks), step 0
    [4, 4, 4, false], // block 1, step 1
    [4, 8, 4, true], // fused: block 1 final + block 2 step 0
    [8, 4, 8, false],
    [8, 4, 8, false],
    [8, 4, 8, false],
    [8, 8, 8, true], // fused: block 2 final + block 3 step 0
    [12, 4, 12, false],
    [12, 4, 12, false],
    [12, 4, 12, false],
  ]);
  assert.deepEqual(runner.calls[0].visibility, blockCausalVisibility(0, 0, 4, 4));
  assert.deepEqual(runner.calls[3].visibility, blockCausalVisibility(4, 4, 8, 4));
  assert.ok(runner.calls[1].visibility.every((v) => v === 1));
  const reference = slow();
  await generate(reference, PROMPT, { maxTokens: 10, mode: 'reference' });
  assert.equal(runner.forwards, reference.forwards + 1);
  assert.deepEqual(
    reference.calls.map((c) => c.ids.length),
    [8, 8, 12, 12, 12, 12, 16, 16, 16, 16],
  );
});

test('block-aligned prompt: no prefill block is skipped, and P < B has no prefill', async () => {
  const aligned = slow();
  await generate(aligned, [1, 2, 3, 4], { maxTokens: 4, mode: 'cached' });
  assert.deepEqual(aligned.calls[0].ids.length, 4);
  assert.equal(aligned.calls[0].wantPresent, true);
  const short = slow();
  await generate(short, [1, 2], { maxTokens: 2, mode: 'cached' });
  assert.ok(short.calls.every((c) => c.pastLength === 0 && c.ids.length === 4));
});

test('logits are fetched only when the sampler needs the whole distribution', async () => {
  const cases: [object, boolean][] = [
    [{}, false],
    [{ temperature: 0, topK: 9 }, false],
    [{ temperature: 0.7 }, true],
    [{ temperature: 0.7, topK: 3 }, false],
    [{ temperature: 0.7, topK: 4 }, false],
    [{ temperature: 0.7, topK: 5 }, true],
    [{ temperature: 0.7, topK: 3, topP: 0.9 }, false],
    [{ temperature: 0.7, topP: 0.9 }, true],
    [{ algorithm: 'entropy_threshold', algorithmParams: { exact: true } }, true],
  ];
  for (const [opts, want] of cases) {
    const runner = slow();
    await generate(runner, PROMPT, { maxTokens: 2, seed: 1, mode: 'reference', ...opts });
    assert.ok(
      runner.calls.every((c) => c.wantLogits === want),
      JSON.stringify(opts),
    );
  }
});

test('a seed reproduces a sampled generation; other seeds give other tokens', async () => {
  const flat = new ScriptedRunner(table((p) => [p % 10, 0.2]));
  const run = (seed: number) => generate(flat, PROMPT, { maxTokens: 10, temperature: 1, seed });
  const a = await run(7);
  assert.deepEqual((await run(7)).tokens, a.tokens);
  assert.equal(a.seed, 7);
  const others = await Promise.all([1, 2, 3, 4, 5].map(async (s) => (await run(s)).tokens.join()));
  assert.ok(others.some((t) => t !== a.tokens.join()));
  assert.ok(new Set(others).size > 1);
});

test('stats: NFE, commits, tokens per forward and a consistent time split', async () => {
  const runner = new ScriptedRunner(table((p) => [p % 10, p % 2 ? 0.99 : 0.5]));
  const { result, steps } = await collect(
    decode(runner, PROMPT, { maxTokens: 10, mode: 'cached' }),
  );
  const s = result.stats;
  assert.equal(s.forwards, runner.forwards);
  assert.equal(s.prefillForwards, 1);
  assert.equal(s.forwards, steps.length + 1);
  assert.equal(
    s.committedTokens,
    steps.reduce((n, e) => n + e.committed.length, 0),
  );
  assert.equal(s.outputTokens, 10);
  assert.equal(s.blocks, 3);
  assert.ok(Math.abs(s.tokensPerForward - s.committedTokens / s.forwards) < 1e-12);
  for (const v of [s.totalMs, s.prefillMs, s.stepsMs, s.runnerMs, s.loopMs]) assert.ok(v >= 0);
  assert.ok(Math.abs(s.runnerMs + s.loopMs - s.totalMs) < 1e-9);
  assert.ok(Math.abs(s.prefillMs + s.stepsMs - s.totalMs) < 1e-9);
});
