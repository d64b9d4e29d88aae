import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ToolCallStream, parseCall, rawMember, type ToolStreamEvent } from './tool-calls.ts';

const names = new Set(['add', 'now']);
const run = (pieces: string[], parallel = true) => {
  const s = new ToolCallStream({ names, parallel });
  const out: ToolStreamEvent[] = [];
  for (const p of pieces) out.push(...s.push(p));
  out.push(...s.finish());
  return out.map((e) =>
    e.type === 'content' ? e.text : `CALL ${e.call.name} ${e.call.arguments}`,
  );
};

test('a tag split across deltas is held back, never streamed as content', () => {
  assert.deepEqual(run(['Hi <tool', '_call>{"name": "now"}</tool', '_call>']), [
    'Hi',
    'CALL now {}',
  ]);
  assert.equal(run(['a < b', ' and <tool_c', 'x']).join(''), 'a < b and <tool_cx');
});

test('whitespace only between calls is dropped; text after a call is kept', () => {
  const call = '<tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call>';
  assert.deepEqual(run([call, '\n', call, '\n']), ['CALL add {"a": 1}', 'CALL add {"a": 1}']);
  assert.deepEqual(run([call, ' done']), ['CALL add {"a": 1}', ' done']);
  assert.deepEqual(run([call, '\n', call], false), ['CALL add {"a": 1}']);
});

test('an unterminated call is a call when its JSON is whole, else content', () => {
  assert.deepEqual(run(['<tool_call>{"name": "now", "arguments": {}}']), ['CALL now {}']);
  assert.deepEqual(run(['x\n<tool_call>{"name": "now", "argu']), [
    'x',
    '\n<tool_call>{"name": "now", "argu',
  ]);
});

test('arguments: an object keeps its spacing, a JSON string passes, "parameters" is read too', () => {
  assert.equal(parseCall('{"name":"add","arguments":{"a":  1}}', names)?.arguments, '{"a":  1}');
  assert.equal(
    parseCall('{"name": "add", "arguments": "{\\"a\\": 1}"}', names)?.arguments,
    '{"a": 1}',
  );
  assert.equal(
    parseCall('{"name": "add", "parameters": {"b": [1, "}"]}}', names)?.arguments,
    '{"b": [1, "}"]}',
  );
  assert.equal(parseCall('{"name": "add", "arguments": "not json"}', names), null);
  assert.equal(parseCall('{"name": "add", "arguments": [1]}', names), null);
  assert.equal(parseCall('[1]', names), null);
  assert.equal(rawMember('{"x": {"y": "a\\"}"}}', 'x'), '{"y": "a\\"}"}');
});
