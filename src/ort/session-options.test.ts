import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeManifest } from '../model/testing/memory-store.ts';
import { sessionOptions } from './session-options.ts';

test('sessionOptions: session_config without its prefix, the provider, threads and external data', async () => {
  const base = await makeManifest({ 'model.onnx': new Uint8Array(4) });
  const manifest = {
    ...base,
    graph: { ...base.graph, session_config: { 'session.disable_quant_qdq': '1', other: 'x' } },
  };
  const cpu = sessionOptions(manifest);
  assert.deepEqual(cpu.executionProviders, ['cpu']);
  assert.deepEqual(cpu.extra, { session: { disable_quant_qdq: '1', other: 'x' } });
  assert.equal(cpu.graphOptimizationLevel, 'all');
  assert.equal('externalData' in cpu, false);
  assert.equal('intraOpNumThreads' in cpu, false);

  const cuda = sessionOptions(manifest, { provider: 'cuda', deviceId: 2, threads: 3 });
  assert.deepEqual(cuda.executionProviders, [{ name: 'cuda', deviceId: 2 }]);
  assert.equal(cuda.intraOpNumThreads, 3);

  const data = new Uint8Array([1, 2]);
  const wasm = sessionOptions(manifest, {
    provider: 'wasm',
    externalData: [{ path: 'model.onnx.data', data }],
  });
  assert.deepEqual(wasm.executionProviders, ['wasm']);
  assert.deepEqual(wasm.externalData, [{ path: 'model.onnx.data', data }]);
  assert.deepEqual(sessionOptions(manifest, { provider: 'webgpu' }).executionProviders, ['webgpu']);
});
