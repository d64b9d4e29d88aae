import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sessionConfig } from './export-package.ts';

// LLaDA2.0-mini: the 157 184 × 2048 head and embeddings; 19 MoE layers of 256 experts × 3 × 512 × 2048.
const MINI = { largestMatrix: 157184 * 2048, expertParameters: 19 * 256 * 3 * 512 * 2048 };

test('sessionConfig: the folding limit raised for the big matrices, prepacking off for big quantized experts', () => {
  assert.deepEqual(sessionConfig({ dtype: 'int4', int4Layout: 'dq', ...MINI }), {
    'session.disable_quant_qdq': '1',
    'optimization.constant_folding_max_output_size_in_bytes': String(4 * 157184 * 2048),
    'session.disable_prepacking': '1',
  });
  // Four layers of mini: 1.2 GB of int4 experts, prepacked as usual.
  assert.deepEqual(
    Object.keys(
      sessionConfig({
        dtype: 'int4',
        int4Layout: 'dq',
        ...MINI,
        expertParameters: (MINI.expertParameters / 19) * 3,
      }),
    ),
    ['session.disable_quant_qdq', 'optimization.constant_folding_max_output_size_in_bytes'],
  );
  // fp16 folds its Casts; fp32 folds nothing; small models keep ORT's defaults.
  assert.deepEqual(Object.keys(sessionConfig({ dtype: 'fp16', int4Layout: 'dq', ...MINI })), [
    'optimization.constant_folding_max_output_size_in_bytes',
  ]);
  assert.deepEqual(sessionConfig({ dtype: 'fp32', int4Layout: 'dq', ...MINI }), {});
  assert.deepEqual(
    sessionConfig({
      dtype: 'int8',
      int4Layout: 'dq',
      largestMatrix: 512 * 64,
      expertParameters: 1e6,
    }),
    { 'session.disable_quant_qdq': '1' },
  );
});
