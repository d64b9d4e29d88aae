import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionQueue } from './admission-queue.ts';

const settled = async (p: Promise<void>) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10))]);

test('admits up to maxRunning, queues up to maxWaiting FIFO, refuses the rest', async () => {
  const a = new AdmissionQueue({ maxRunning: 2, maxWaiting: 2 });
  const [r1, r2, w1, w2] = [a.tryAdmit()!, a.tryAdmit()!, a.tryAdmit()!, a.tryAdmit()!];
  assert.equal(a.tryAdmit(), null);
  assert.deepEqual([a.numRunning, a.numWaiting], [2, 2]);
  assert.ok(await settled(r1.ready));
  assert.ok(!(await settled(w1.ready)));
  r1.release();
  r1.release(); // idempotent
  assert.ok(await settled(w1.ready));
  assert.ok(!(await settled(w2.ready)));
  assert.deepEqual([a.numRunning, a.numWaiting], [2, 1]);
  w2.release(); // leaves the queue without ever running
  assert.deepEqual([a.numRunning, a.numWaiting], [2, 0]);
  r2.release();
  w1.release();
  assert.deepEqual([a.numRunning, a.numWaiting], [0, 0]);
});

test('rejects bad limits at construction', () => {
  assert.throws(() => new AdmissionQueue({ maxRunning: 0, maxWaiting: 1 }), /maxRunning/);
  assert.throws(() => new AdmissionQueue({ maxRunning: 1, maxWaiting: -1 }), /maxWaiting/);
});
