/**
 * FairTurns: among tenants with equal usage turns come round-robin (a tenant with many forwards waiting gets one
 * turn per round, like a tenant with one), in arrival order within a tenant; the tenant that used the model least
 * lately goes first, usage is forgotten with time, and busy tenants share tokens evenly without starving the one
 * with the costlier forwards; a waiter that stops polling (a cancelled request) never blocks the line, and an
 * aborted one leaves it; and a runner engine decoding for two tenants gives the one with a single request its
 * turn after at most one forward of the other's, on a real tiny model.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FairTurns, USAGE_HALF_LIFE_MS } from './fair-turns.ts';
import { runnerEngine } from './runner-engine.ts';
import type { BlockRunner } from '../decode/runner.ts';
import { modelCodec, openModel, type OpenedModel } from '../../backends/node/open-model.ts';
import { tinyFixture, type Fixture } from '../../test/fixtures/export.ts';

/** Queues `shares` in order (synchronously); returns the order their turns came in. */
async function turnOrder(
  turns: FairTurns,
  shares: string[],
  cost: (share: string) => number = () => 1,
): Promise<string[]> {
  const order: string[] = [];
  await Promise.all(
    shares.map(async (share, i) => {
      await turns.take(share, { cost: cost(share) });
      order.push(`${share}${i}`);
    }),
  );
  return order;
}

test('one turn per tenant per round, whatever each has waiting', async () => {
  const order = await turnOrder(new FairTurns(), ['a', 'a', 'a', 'a', 'b', 'c']);
  assert.deepEqual(order, ['a0', 'b4', 'c5', 'a1', 'a2', 'a3']);
});

test("a tenant's own turns keep their order; one share key alone is first come, first served", async () => {
  assert.deepEqual(await turnOrder(new FairTurns(), ['', '', '']), ['0', '1', '2']);
});

test('the tenant that used the model least lately goes first, whatever the order they came in', async () => {
  const turns = new FairTurns();
  await turns.take('busy', { cost: 500 });
  await turns.take('light', { cost: 8 });
  assert.deepEqual(await turnOrder(turns, ['busy', 'busy', 'light', 'new']), [
    'new3',
    'light2',
    'busy0',
    'busy1',
  ]);
});

test('usage is forgotten with time: half of it after each half-life', async () => {
  let now = 0;
  const turns = new FairTurns(() => now);
  await turns.take('busy', { cost: 1000 });
  assert.equal(turns.usedBy('busy'), 1000);
  now = USAGE_HALF_LIFE_MS;
  assert.equal(turns.usedBy('busy'), 500);
  now = 8 * USAGE_HALF_LIFE_MS;
  await turns.take('light', { cost: 10 });
  // busy has decayed to about 4 tokens, below light's fresh 10: busy goes first now.
  assert.deepEqual(await turnOrder(turns, ['light', 'busy']), ['busy1', 'light0']);
});

test('busy tenants share tokens evenly: costly forwards are not starved, cheap ones get more turns', async () => {
  const turns = new FairTurns(() => 0);
  const order = await turnOrder(
    turns,
    Array.from({ length: 80 }, (_, i) => (i % 2 ? 'cheap' : 'costly')),
    (share) => (share === 'costly' ? 32 : 1),
  );
  // While both have work waiting (cheap runs out after its 40 turns): one 32-token turn per 32 one-token turns.
  const first = order.slice(0, 40).map((s) => s.replace(/\d+$/, ''));
  const costly = first.filter((s) => s === 'costly').length;
  assert.ok(costly >= 2 && costly <= 3, `costly got ${costly} of 40 turns: ${first.join(',')}`);
});

test('a waiter whose request stopped polling (cancelled) is dropped once first in line; it may come back', async () => {
  const turns = new FairTurns();
  let revive: () => void = () => {};
  let polls = 0;
  // Polls once (joins the line first), then waits until revived, as a cancelled request's timers would.
  const stalled = turns.take('dead', {
    nextTask: () => (polls++ === 0 ? Promise.resolve() : new Promise<void>((r) => (revive = r))),
  });
  const first = await Promise.race([stalled.then(() => 'dead'), turns.take('b').then(() => 'b')]);
  assert.equal(first, 'dead', 'the first in line polls once and takes its turn');
  const again = turns.take('dead', {
    nextTask: () => new Promise<void>((r) => (revive = r)),
  });
  await turns.take('b');
  await turns.take('b');
  assert.equal(turns.queued, 0, 'the stalled waiter was dropped');
  revive();
  await again;
});

test('an aborted waiter leaves the line', async () => {
  const turns = new FairTurns();
  const abort = new AbortController();
  const waiting = turns.take('a', { signal: abort.signal });
  abort.abort(new Error('client left'));
  await assert.rejects(waiting, /client left/);
  assert.equal(turns.queued, 0);
  await turns.take('b');
});

let fx: Fixture;
let model: OpenedModel;
before(async () => {
  fx = await tinyFixture();
  model = await openModel(await fx.pkg('fair-turns'));
});
after(async () => {
  await model.close();
  await fx.cleanup();
});

test('a runner engine gives a tenant with one request its turn after at most one forward of a busier tenant', async () => {
  const forwards: number[] = [];
  const { runner } = model;
  const recording: BlockRunner = {
    info: runner.info,
    truncate: (s, n) => runner.truncate(s, n),
    forward: (input) => {
      forwards.push(input.ids[0]);
      return runner.forward(input);
    },
  };
  const engine = runnerEngine({
    id: 'tiny',
    backend: 'node',
    load: async () => ({ runner: recording, codec: modelCodec(model) }),
  });
  const open = await engine.open();
  const run = async (firstId: number, share: string) => {
    for await (const _ of open.decode(
      [firstId, 5, 6, 7],
      { maxTokens: 32, threshold: 1, eosEarlyStop: false },
      { share },
    ));
  };
  // Tenant a: three requests in flight; tenant b: one, arriving last.
  await Promise.all([run(11, 'a'), run(12, 'a'), run(13, 'a'), run(20, 'b')]);
  const bFirst = forwards.indexOf(20);
  assert.ok(
    bFirst >= 0 && bFirst <= 1,
    `b's first forward came at ${bFirst}: ${forwards.slice(0, 6)}`,
  );
  // Per-request turns would have served a's three prefills first.
  assert.deepEqual(forwards.slice(0, 2).sort(), [11, 20]);
});
