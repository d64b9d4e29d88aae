/** The completion prompt's shapes: what the one-loop token-id check accepts and refuses (as z.int() did). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionRequestSchema } from './schemas.ts';

const prompt = (value: unknown) => CompletionRequestSchema.safeParse({ model: 'm', prompt: value });

test('token-id prompts: lists of safe integers, one or several; anything else is refused', () => {
  for (const ok of [[0], [1, 2, 3], [-1, 5], [[4, 5], [6]], 'text', ['a', 'b']])
    assert.equal(prompt(ok).success, true, JSON.stringify(ok));
  const long = Array.from({ length: 130_000 }, (_, i) => i % 200);
  assert.deepEqual(prompt(long).data?.prompt, long);
  for (const bad of [
    [],
    [1.5],
    [1, '2'],
    [2 ** 53],
    [null],
    [[]],
    [[1], [2.5]],
    [[1], []],
    [1, [2]],
  ]) {
    const result = prompt(bad);
    assert.equal(result.success, false, JSON.stringify(bad));
    assert.deepEqual(result.error?.issues[0].path, ['prompt']);
  }
});
