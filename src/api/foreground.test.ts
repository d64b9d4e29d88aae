/**
 * foreground: deferred work waits its minimum tasks, then while a forward is marked waiting or running, and no
 * longer than its task and time bounds; an entry a cancelled request never ended stops counting once stale.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beginForeground, deferToForeground, foregroundBusy } from './foreground.ts';

/** Counts the tasks a deferral waited. */
function countingTask() {
  const counter = { tasks: 0, nextTask: async () => void counter.tasks++ };
  return counter;
}

test('an idle foreground: a deferral waits exactly its minimum tasks', async () => {
  const c = countingTask();
  await deferToForeground({ minTasks: 3, maxTasks: 100, maxMs: 1000, nextTask: c.nextTask });
  assert.equal(c.tasks, 3);
});

test('a busy foreground holds a deferral until it ends', async () => {
  const end = beginForeground();
  const c = countingTask();
  const nextTask = async () => {
    await c.nextTask();
    if (c.tasks === 7) end();
  };
  await deferToForeground({ minTasks: 2, maxTasks: 100, maxMs: 60_000, nextTask });
  assert.equal(c.tasks, 7);
  assert.equal(foregroundBusy(), false);
});

test('a foreground that never ends: a deferral still runs after its task bound', async () => {
  const end = beginForeground();
  try {
    const c = countingTask();
    await deferToForeground({ minTasks: 1, maxTasks: 12, maxMs: 60_000, nextTask: c.nextTask });
    assert.equal(c.tasks, 12);
  } finally {
    end();
  }
});

test('an entry no one ended stops counting once stale; ending twice is harmless', () => {
  const end = beginForeground();
  assert.equal(foregroundBusy(), true);
  assert.equal(foregroundBusy(Date.now() + 60_000), false, 'stale: removed');
  assert.equal(foregroundBusy(), false);
  end();
  end();
  assert.equal(foregroundBusy(), false);
});
