import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePlacements } from './ep-placement.ts';

const V =
  '2026-12-06 23:20:03.708 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]';

test('parsePlacements: one provider for everything, or several with the nodes each one runs', () => {
  assert.deepEqual(
    parsePlacements(
      [
        `${V} Node placements`,
        `${V}  All nodes placed on [CPUExecutionProvider]. Number of nodes: 204`,
      ].join('\n'),
    ),
    [{ provider: 'CPUExecutionProvider', nodes: 204, ops: {} }],
  );
  const split = [
    'some earlier line',
    `${V} Node placements`,
    `${V}  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 3`,
    `${V}   MatMul (n_MatMul__1)`,
    `${V}   MatMul (n_MatMul__2)`,
    `${V}   Softmax (n_Softmax__3)`,
    `${V}  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2`,
    `${V}   QMoE (n_QMoE__430)`,
    `${V}   Shape (n_Shape__7)`,
    '2026-12-06 23:20:04.1 [V:onnxruntime:, other.cc:1 X] unrelated',
  ].join('\n');
  assert.deepEqual(parsePlacements(split), [
    { provider: 'WebGpuExecutionProvider', nodes: 3, ops: { MatMul: 2, Softmax: 1 } },
    { provider: 'CPUExecutionProvider', nodes: 2, ops: { QMoE: 1, Shape: 1 } },
  ]);
});
