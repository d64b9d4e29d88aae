/**
 * FairTurns: turns come round-robin over tenants (a tenant with many forwards waiting gets one turn per round,
 * like a tenant with one), in arrival order within a tenant; a waiter that stops polling (a cancelled request)
 * never blocks the line, and an aborted one leaves it; and a runner engine decoding for two tenants gives the one with a single request its turn after at most
 * one forward of the other's, on a real tiny model.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FairTurns } from './fair-turns.ts';
import { runnerEngine } from './runner-engine.ts';
import type { BlockRunner } from '../decode/runner.ts';
import { modelCodec, openModel, type OpenedModel } from '../../backends/node/open-model.ts';
import { tinyFixture, type Fixture } from '../../test/fixtures/export.ts';

/** Queues `shares` in order (synchronously); returns the order their turns came in. */
async function turnOrder(turns: FairTurns, shares: string[]): Promise<string[]> {
  const order: string[] = [];
  await Promise.all(
    shares.map(async (share, i) => {
      await turns.take(share);
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
