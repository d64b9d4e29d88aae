import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sessionConfig } from './session-config.ts';
import type { QuantOptions } from '../../../src/export/quantize.ts';

// LLaDA2.0-mini: the 157 184 × 2048 head and embeddings; 19 MoE layers of 256 experts × 3 × 512 × 2048.
const MINI = {
  vocab: 157184,
  hidden: 2048,
  sparseMoeLayers: 19,
  experts: 256,
  moeIntermediate: 512,
};
const HEAD_BYTES = String(4 * 157184 * 2048);
/** One layer's fc1 experts [256, 1024, 2048] as fp32: 2 GiB. */
const EXPERTS_BYTES = String(4 * 256 * 1024 * 2048);
const q = (o: Partial<QuantOptions>): QuantOptions => ({
  dtype: 'fp32',
  int4Layout: 'dq',
  blockSize: 32,
  kernel: 'int8',
  ...o,
});
const FOLD = 'optimization.constant_folding_max_output_size_in_bytes';

test('sessionConfig: int4 dq on the int8 kernel folds QDQ up to the experts, prepacking off past 4 GiB', () => {
  // The experts' DequantizeLinear → QuantizeLinear folds a 2 GiB fp32 intermediate per layer; 15 GB of 8-bit
  // QMoE experts in memory.
  assert.deepEqual(sessionConfig(q({ dtype: 'int4' }), MINI), {
    'session.disable_quant_qdq': '1',
    [FOLD]: EXPERTS_BYTES,
    'session.disable_prepacking': '1',
  });
  // Three layers of mini: 2.4 GB of 8-bit experts, prepacked as usual.
  assert.deepEqual(
    Object.keys(sessionConfig(q({ dtype: 'int4' }), { ...MINI, sparseMoeLayers: 3 })),
    ['session.disable_quant_qdq', FOLD],
  );
});

test('sessionConfig: what stays integer is not folded, so the limit follows the fp16 embeddings only', () => {
  // int8 kernel: u8 weights and QMoE 8-bit, nothing dequantized; the fp16 embedding table is Cast at load.
  assert.deepEqual(sessionConfig(q({ dtype: 'int8' }), MINI), {
    [FOLD]: HEAD_BYTES,
    'session.disable_prepacking': '1',
  });
  // ... and with int8 embeddings nothing at all is folded.
  assert.deepEqual(sessionConfig(q({ dtype: 'int8', embeddings: 'int8' }), MINI), {
    'session.disable_prepacking': '1',
  });
  // matmulnbits: 4-bit QMoE in memory (7.6 GB: still past 4 GiB), int4 head stays int4.
  assert.deepEqual(
    sessionConfig(q({ dtype: 'int4', int4Layout: 'matmulnbits', embeddings: 'int8' }), MINI),
    { 'session.disable_prepacking': '1' },
  );
  assert.deepEqual(
    sessionConfig(q({ dtype: 'int4', int4Layout: 'matmulnbits', embeddings: 'int8' }), {
      ...MINI,
      sparseMoeLayers: 4,
    }),
    {},
  );
});

test('sessionConfig: float kernels fold everything to fp32 and never prepack QMoE; fp32 and small models keep the defaults', () => {
  assert.deepEqual(sessionConfig(q({ dtype: 'int8', kernel: 'float' }), MINI), {
    'session.disable_quant_qdq': '1',
    [FOLD]: EXPERTS_BYTES,
  });
  assert.deepEqual(sessionConfig(q({ dtype: 'fp16' }), MINI), { [FOLD]: EXPERTS_BYTES });
  // Dense MoE: no sparse experts; the head and embeddings remain.
  assert.deepEqual(sessionConfig(q({ dtype: 'fp16' }), { ...MINI, sparseMoeLayers: 0 }), {
    [FOLD]: HEAD_BYTES,
  });
  assert.deepEqual(sessionConfig(q({ dtype: 'fp32' }), MINI), {});
  const small = { vocab: 512, hidden: 64, sparseMoeLayers: 2, experts: 16, moeIntermediate: 32 };
  assert.deepEqual(sessionConfig(q({ dtype: 'int8', kernel: 'float' }), small), {
    'session.disable_quant_qdq': '1',
  });
  assert.deepEqual(sessionConfig(q({ dtype: 'int8' }), small), {});
});
