import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/export/tiny/rng.ts';
import { demoCodec, encodeExample, promptIds, stagePromptIds } from './examples.ts';
import {
  TASKS,
  TASK_NAMES,
  heldOutExamples,
  isHeldOut,
  resolveTasks,
  sampleTraining,
} from './tasks.ts';
import { TOKEN_IDS, TOOLS_HEAD, VOCAB_SIZE, WORD_TOKENS } from './vocab.ts';
import { ADD_TOOL, addToolCall } from './tool-task.ts';
import { drawBatchExamples } from './train.ts';
import { DEFAULT_SETTINGS } from './options.ts';

describe('task generators', () => {
  test('answers are correct and seeded streams repeat', () => {
    for (const name of TASK_NAMES) {
      const a = Array.from(
        { length: 200 },
        (
          (rng) => () =>
            TASKS[name].sample(rng)
        )(new Rng(7)),
      );
      const b = Array.from(
        { length: 200 },
        (
          (rng) => () =>
            TASKS[name].sample(rng)
        )(new Rng(7)),
      );
      assert.deepEqual(a, b);
      for (const ex of a) {
        assert.ok(ex.prompt.startsWith(TASKS[name].prefix));
        const input = ex.prompt.slice(TASKS[name].prefix.length);
        assert.ok(
          input.length <= TASKS[name].maxInputChars &&
            ex.answer.length <= TASKS[name].maxAnswerChars,
        );
        if (name === 'sort') assert.equal(ex.answer, [...input].sort().join(''));
        if (name === 'add') {
          assert.match(ex.prompt, /^add: \d{3}\+\d{3}$/);
          const [x, y] = input.split('+').map(Number);
          assert.equal(ex.answer, String(x + y).padStart(4, '0'));
        }
        if (name === 'tool') {
          const m = /^what is (0|[1-9]\d{0,2}) plus (0|[1-9]\d{0,2})\?$/.exec(ex.prompt);
          assert.ok(m, ex.prompt);
          const [x, y] = [Number(m[1]), Number(m[2])];
          const [call, final] = ex.stages!;
          const json = /^<tool_call>(.*)<\/tool_call>$/.exec(call.answer)![1];
          assert.deepEqual(JSON.parse(json), { name: 'add', arguments: { a: x, b: y } });
          assert.deepEqual(call.tools, [ADD_TOOL]);
          assert.equal(final.messages.at(-1)!.content, String(x + y));
          assert.equal(final.answer, `${x} + ${y} = ${x + y}`);
          assert.equal(ex.answer, final.answer);
        }
      }
    }
  });

  test('training batches depend only on (seed, step)', () => {
    const s = { ...DEFAULT_SETTINGS, tasks: ['sort', 'add'], batch: 16 };
    assert.deepEqual(drawBatchExamples(s, 3).examples, drawBatchExamples(s, 3).examples);
    assert.notDeepEqual(drawBatchExamples(s, 3).examples, drawBatchExamples(s, 4).examples);
    assert.notDeepEqual(
      drawBatchExamples(s, 3).examples,
      drawBatchExamples({ ...s, seed: 1 }, 3).examples,
    );
    const tasks = new Set(drawBatchExamples(s, 0).examples.map((e) => e.task));
    assert.deepEqual([...tasks].sort(), ['add', 'sort']);
    const all = { ...s, tasks: TASK_NAMES, batch: 64 };
    const mixed = new Set(drawBatchExamples(all, 0).examples.map((e) => e.task));
    assert.deepEqual([...mixed].sort(), ['add', 'sort', 'tool']);
  });

  test('unknown task names fail with the known list', () => {
    assert.deepEqual(
      resolveTasks('all').map((t) => t.name),
      TASK_NAMES,
    );
    assert.throws(() => resolveTasks('nope'), /unknown task "nope"; known: sort, add, tool, all/);
  });
});

describe('held-out split', () => {
  test('held-out prompts are fixed, distinct, and never sampled for training', () => {
    for (const name of TASK_NAMES) {
      const held = heldOutExamples(TASKS[name], 200);
      assert.deepEqual(held, heldOutExamples(TASKS[name], 200));
      assert.equal(new Set(held.map((e) => e.prompt)).size, 200);
      assert.ok(held.every((e) => isHeldOut(e.prompt)));
      const heldSet = new Set(held.map((e) => e.prompt));
      const rng = new Rng(123);
      for (let i = 0; i < 20_000; i++) {
        const ex = sampleTraining(TASKS[name], rng);
        assert.ok(!isHeldOut(ex.prompt) && !heldSet.has(ex.prompt), `${ex.prompt} is held out`);
      }
    }
  });

  test('about 5 % of prompts are held out', () => {
    const rng = new Rng(5);
    let held = 0;
    for (let i = 0; i < 20_000; i++) if (isHeldOut(TASKS.add.sample(rng).prompt)) held++;
    assert.ok(held > 700 && held < 1300, `${held} of 20000`);
  });
});

describe('tokenizer and chat template', () => {
  const codec = demoCodec();
  test('the template head and tail and the task prefix are one token each; every task character is one', () => {
    const ids = promptIds(codec, 'sort: dbca');
    // [<role>SYSTEM</role>detailed thinking off<|role_end|><role>HUMAN</role>] ["sort: "] d b c a [<|role_end|><role>ASSISTANT</role>]
    assert.equal(ids.length, 7);
    assert.equal(promptIds(codec, 'add: 012+345').length, 10);
    assert.equal(
      codec.decode(ids, { skipSpecialTokens: false }),
      codec.applyChatTemplate([{ role: 'user', content: 'sort: dbca' }]),
    );
    assert.ok(ids.every((id) => id >= 0 && id < VOCAB_SIZE));
  });

  test('targets end with <|role_end|> and EOS; special ids sit at the end of the vocabulary', () => {
    const [enc] = encodeExample(codec, { task: 'add', prompt: 'add: 012+345', answer: '0357' });
    assert.equal(enc.target.length, 6);
    assert.deepEqual(enc.target.slice(-2), [TOKEN_IDS['<|role_end|>'], TOKEN_IDS['<|endoftext|>']]);
    assert.equal(codec.decode(enc.target), '0357');
    assert.deepEqual(Object.values(TOKEN_IDS), [
      VOCAB_SIZE - 5,
      VOCAB_SIZE - 4,
      VOCAB_SIZE - 3,
      VOCAB_SIZE - 2,
      VOCAB_SIZE - 1,
    ]);
  });

  test('prompts outside the single-turn shape fall back to the template words', () => {
    const text = codec.applyChatTemplate([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'add: 1+2' },
    ]);
    const ids = codec.encode(text);
    assert.equal(codec.decode(ids, { skipSpecialTokens: false }), text);
    assert.ok(ids.includes(TOKEN_IDS['<role>']) && ids.length < 25, `${ids.length} tokens`);
  });

  test('any text still round-trips (byte-level alphabet)', () => {
    for (const text of ['héllo SYSTEM world 🙂', 'Tabs\tand\nnewlines', 'sort: zyx add: 1+2'])
      assert.equal(codec.decode(codec.encode(text)), text);
  });
});

describe('tool calls', () => {
  const codec = demoCodec();
  /** The tool as a client writes it in a request body (JSON text, parsed the way the API parses it). */
  const requestTool = JSON.parse(
    '{"type":"function","function":{"name":"add","description":"Add two integers and return their sum.",' +
      '"parameters":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}}',
  );

  test('a request whose tools are the trained tool list renders to the trained token ids', () => {
    const ex = TASKS.tool.sample(new Rng(1));
    const [call, final] = ex.stages!;
    const messages = [{ role: 'user', content: ex.prompt }];
    const ids = codec.encode(codec.applyChatTemplate(messages, { tools: [requestTool] }));
    assert.deepEqual(ids, stagePromptIds(codec, call));
    // The whole SYSTEM turn with the tools block is one token; the question follows it.
    assert.equal(ids[0], 256 + WORD_TOKENS.indexOf(TOOLS_HEAD));
    assert.ok(ids.length <= 12, `${ids.length} prompt tokens`);

    // Stage 2 as an OpenAI client sends it back: the call with string arguments, then the tool's result.
    const args = JSON.parse(/<tool_call>(.*)<\/tool_call>/.exec(call.answer)![1]).arguments;
    const followUp = [
      { role: 'user', content: ex.prompt },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_abc',
            type: 'function',
            function: { name: 'add', arguments: `{"a": ${args.a}, "b": ${args.b}}` },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_abc', content: String(args.a + args.b) },
    ];
    const text = codec.applyChatTemplate(followUp, { tools: [requestTool] });
    assert.ok(
      text.endsWith(
        `<role>ASSISTANT</role>${call.answer}<|role_end|><role>OBSERVATION</role>\n<tool_response>\n${args.a + args.b}\n</tool_response><|role_end|><role>ASSISTANT</role>`,
      ),
      text.slice(-200),
    );
    assert.deepEqual(codec.encode(text), stagePromptIds(codec, final));
  });

  test("the model's tool call survives decoding: <tool_call> is text, not a special token", () => {
    const [enc] = encodeExample(codec, TASKS.tool.sample(new Rng(2)));
    const text = codec.decode(enc.target);
    assert.match(
      text,
      /^<tool_call>\{"name": "add", "arguments": \{"a": \d+, "b": \d+\}\}<\/tool_call>$/,
    );
    assert.equal(enc.target.length, codec.encode(text).length + 2);
    assert.equal(
      addToolCall(12, 345),
      '<tool_call>{"name": "add", "arguments": {"a": 12, "b": 345}}</tool_call>',
    );
  });

  test('another tool list still renders and encodes (character by character)', () => {
    const other = { ...requestTool, function: { ...requestTool.function, name: 'sum' } };
    const text = codec.applyChatTemplate([{ role: 'user', content: 'what is 1 plus 2?' }], {
      tools: [other],
    });
    assert.ok(text.includes('"name": "sum"'));
    const ids = codec.encode(text);
    assert.equal(codec.decode(ids, { skipSpecialTokens: false }), text);
    assert.ok(!ids.includes(256 + WORD_TOKENS.indexOf(TOOLS_HEAD)));
  });
});
