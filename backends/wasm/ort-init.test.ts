/** The init graph is a real model: onnxruntime-node opens it and it is the identity on float[1]. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { identityGraph } from './ort-init.ts';

test('the 65-byte init graph opens in ORT and returns its input', async () => {
  const bytes = identityGraph();
  assert.equal(bytes.length, 65);
  const session = await ort.InferenceSession.create(bytes);
  const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.of(2.5), [1]) });
  assert.deepEqual(Array.from(y.data as Float32Array), [2.5]);
  await session.release();
});
