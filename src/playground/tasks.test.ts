import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXAMPLES, exampleFor, expectedAnswer, randomPrompt, seededRandom } from './tasks.ts';

test('expected answers of the demo tasks', () => {
  assert.equal(expectedAnswer('sort: dbca'), 'abcd');
  assert.equal(expectedAnswer(' sort: qwerty '), 'eqrtwy');
  assert.equal(expectedAnswer('add: 012+345'), '0357');
  assert.equal(expectedAnswer('add: 999+999'), '1998');
  assert.equal(
    expectedAnswer('what is 12 plus 345?'),
    '<tool_call>{"name": "add", "arguments": {"a": 12, "b": 345}}</tool_call>',
  );
  assert.equal(expectedAnswer('hello'), null);
  for (const ex of EXAMPLES) assert.equal(exampleFor(ex.prompt), ex);
});

test('random prompts are in the trained forms and repeat for a seed', () => {
  const a = seededRandom(5);
  const b = seededRandom(5);
  for (let i = 0; i < 50; i++) {
    const sort = randomPrompt('sort', a);
    assert.equal(sort, randomPrompt('sort', b));
    assert.match(sort, /^sort: [a-z]{3,8}$/);
    assert.equal(new Set(sort.slice(6)).size, sort.length - 6, 'distinct letters');
    const add = randomPrompt('add', a);
    assert.equal(add, randomPrompt('add', b));
    assert.match(add, /^add: \d{3}\+\d{3}$/);
  }
});
