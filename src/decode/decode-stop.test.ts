/** Golden tests of output length and the EOS stop rules (spec §1.3 steps 8–9, §1.5, §8 quirks). */
import { assert, test } from './testing/harness.ts';
import { decode } from './decode.ts';
import { collect } from './testing/collect.ts';
import { ScriptedRunner, table } from './testing/scripted-runner.ts';

const EOS = 14;
type Row = readonly [number, number];

for (const mode of ['reference', 'cached'] as const) {
  test(`${mode}: a block with EOS ends generation; output cut after the EOS`, async () => {
    // P = 3, B = 4: block 0 = prompt + position 3; block 1 = 4..7 with EOS at 5; blocks 2, 3 never run.
    const rows: Record<number, Row> = {
      3: [9, 0.99],
      4: [7, 0.99],
      5: [EOS, 0.99],
      6: [8, 0.99],
      7: [8, 0.99],
    };
    const runner = new ScriptedRunner(table((p) => rows[p]));
    const { blocks, result } = await collect(decode(runner, [1, 2, 3], { maxTokens: 10, mode }));
    assert.deepEqual(
      blocks.map((b) => [b.block, b.offset, b.tokens]),
      [
        [0, 0, [9]],
        [1, 1, [7, EOS]],
      ],
    );
    assert.deepEqual(result.tokens, [9, 7, EOS]);
    assert.equal(result.finishReason, 'stop');
    assert.equal(result.stats.forwards, 2);
    assert.ok(
      runner.calls.every((c) => Math.max(...c.positions) < 8),
      'no forward reaches block 2',
    );
  });

  test(`${mode}: maxTokens is exact though blocks are B wide`, async () => {
    // P = 3, G = 6: canvas 12 (3 blocks); positions 9..11 are decoded and dropped.
    const runner = new ScriptedRunner(table((p) => [p % 10, 0.99]));
    const { blocks, result } = await collect(decode(runner, [1, 2, 3], { maxTokens: 6, mode }));
    assert.deepEqual(result.tokens, [3, 4, 5, 6, 7, 8]);
    assert.deepEqual(
      blocks.flatMap((b) => b.tokens),
      result.tokens,
    );
    assert.equal(result.finishReason, 'length');
    assert.equal(result.stats.committedTokens, 9);
  });
}

test('EOS only in the dropped tail stops with finish "length"', async () => {
  const rows: Record<number, Row> = { 4: [5, 0.99], 5: [6, 0.99], 6: [7, 0.99], 7: [EOS, 0.99] };
  const runner = new ScriptedRunner(table((p) => rows[p]));
  const { result } = await collect(
    decode(runner, [1, 2, 3, 4], { maxTokens: 2, mode: 'reference' }),
  );
  assert.deepEqual(result.tokens, [5, 6]);
  assert.equal(result.finishReason, 'length');
});

test('EOS in the prompt does not trigger the block stop (it scans x[P:W] only)', async () => {
  const runner = new ScriptedRunner(table((p) => [p % 10, 0.99]));
  const { result } = await collect(
    decode(runner, [1, EOS, 3], { maxTokens: 6, mode: 'reference' }),
  );
  assert.equal(result.tokens.length, 6);
});

// Step 0 commits positions 4 (token 5) and 5 (EOS); 6 and 7 stay masked.
const EARLY: Record<number, Row> = { 4: [5, 0.99], 5: [EOS, 0.99], 6: [7, 0.3], 7: [8, 0.2] };

for (const mode of ['reference', 'cached'] as const) {
  test(`${mode}: eosEarlyStop returns mid-block once a committed EOS has no mask before it`, async () => {
    const early = await collect(
      decode(new ScriptedRunner(table((p) => EARLY[p])), [1, 2, 3, 4], {
        maxTokens: 8,
        eosEarlyStop: true,
        mode,
      }),
    );
    assert.deepEqual(early.result.tokens, [5, EOS]);
    assert.equal(early.result.finishReason, 'stop');
    assert.equal(early.result.stats.forwards, mode === 'cached' ? 2 : 1);
    assert.deepEqual(
      early.blocks.map((b) => b.tokens),
      [[5, EOS]],
    );
    const full = await collect(
      decode(new ScriptedRunner(table((p) => EARLY[p])), [1, 2, 3, 4], { maxTokens: 8, mode }),
    );
    assert.deepEqual(full.result.tokens, [5, EOS]);
    assert.equal(full.result.stats.forwards, mode === 'cached' ? 4 : 3); // the block is finished first
  });
}

test('eosEarlyStop waits while a mask precedes the EOS, and checks only on steps that commit an EOS', async () => {
  // Step 0 commits EOS at 5 while 4 is masked; step 1 commits 4 (not EOS): no early stop, the block finishes.
  const rows: Record<number, Row> = { 4: [5, 0.3], 5: [EOS, 0.99], 6: [7, 0.2], 7: [8, 0.1] };
  const { result } = await collect(
    decode(new ScriptedRunner(table((p) => rows[p])), [1, 2, 3, 4], {
      maxTokens: 8,
      eosEarlyStop: true,
      mode: 'reference',
    }),
  );
  assert.deepEqual(result.tokens, [5, EOS]);
  assert.equal(result.stats.forwards, 4);
});

test('quirk (spec §8): with eosEarlyStop an EOS in the prompt makes the first committed EOS return nothing', async () => {
  const runner = new ScriptedRunner(table((p) => EARLY[p]));
  const { result } = await collect(
    decode(runner, [1, EOS, 3, 4], { maxTokens: 8, eosEarlyStop: true, mode: 'reference' }),
  );
  assert.deepEqual(result.tokens, []);
  assert.equal(result.finishReason, 'stop');
  const plain = await collect(decode(runner, [1, EOS, 3, 4], { maxTokens: 8, mode: 'reference' }));
  assert.deepEqual(plain.result.tokens, [5, EOS]);
});

test('quirk (spec §8): the early-stop path does not cut at maxTokens', async () => {
  const rows: Record<number, Row> = { 4: [5, 0.99], 5: [6, 0.99], 6: [7, 0.99], 7: [EOS, 0.99] };
  const early = await collect(
    decode(new ScriptedRunner(table((p) => rows[p])), [1, 2, 3, 4], {
      maxTokens: 2,
      eosEarlyStop: true,
      mode: 'reference',
    }),
  );
  assert.deepEqual(early.result.tokens, [5, 6, 7, EOS]);
  assert.deepEqual(
    early.blocks.flatMap((b) => b.tokens),
    early.result.tokens,
  );
  const plain = await collect(
    decode(new ScriptedRunner(table((p) => rows[p])), [1, 2, 3, 4], {
      maxTokens: 2,
      mode: 'reference',
    }),
  );
  assert.deepEqual(plain.result.tokens, [5, 6]);
});

test('early stop in a later block keeps the earlier blocks in the output', async () => {
  const rows = (p: number): Row | undefined =>
    p === 9 ? [EOS, 0.99] : p >= 4 ? [p, 0.99] : undefined;
  const { blocks, result } = await collect(
    decode(new ScriptedRunner(table(rows)), [1, 2, 3, 4], {
      maxTokens: 12,
      eosEarlyStop: true,
      mode: 'cached',
    }),
  );
  assert.deepEqual(result.tokens, [4, 5, 6, 7, 8, EOS]);
  assert.deepEqual(
    blocks.map((b) => [b.offset, b.tokens]),
    [
      [0, [4, 5, 6, 7]],
      [4, [8, EOS]],
    ],
  );
});
