import * as ort from 'onnxruntime-node';
import { GraphBuilder, DT } from './src/export/onnx-builder.ts';
import { InlineSink } from './src/export/weight-sink.ts';
import { ExternalFileSink } from './backends/node/export/external-file-sink.ts';
import { linear } from './src/export/quantize.ts';
import { writeFileSync } from 'node:fs';
const K = 2048;
for (const N of [157184]) {
  const sink = new ExternalFileSink(`/tmp/dq-${N}.data`, `dq-${N}.data`);
  const b = new GraphBuilder(sink);
  const x = b.input({ name: 'x', dtype: DT.FLOAT, shape: [32, K] });
  const w = new Float32Array(N * K).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const y = linear(b, x, { name: 'w', data: w, out: N, in: K }, { dtype: 'int4', int4Layout: 'dq', blockSize: 32 });
  b.op('Identity', [y], {}, ['y']);
  b.output({ name: 'y', dtype: DT.FLOAT, shape: [32, N] });
  sink.close();
  writeFileSync(`/tmp/dq-${N}.onnx`, b.encode());
  let t = performance.now();
  const s = await ort.InferenceSession.create(`/tmp/dq-${N}.onnx`, { graphOptimizationLevel: 'all', extra: { session: { disable_quant_qdq: '1' }, optimization: { constant_folding_max_output_size_in_bytes: process.argv[2] ?? '' } } });
  const ct = performance.now() - t;
  const feeds = { x: new ort.Tensor('float32', new Float32Array(32 * K).fill(0.1), [32, K]) };
  await s.run(feeds);
  t = performance.now();
  await s.run(feeds);
  console.log(N, 'fp32 MiB', (N * K * 4 / 2 ** 20).toFixed(0), 'create', ct.toFixed(0), 'ms, run', (performance.now() - t).toFixed(0), 'ms', 'rss', (process.memoryUsage.rss() / 2 ** 30).toFixed(2));
  await s.release();
}
