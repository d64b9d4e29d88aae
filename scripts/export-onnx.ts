/** CLI: npm run export-onnx -- <hf-dir> <out-dir> [--dtype fp32|fp16|int8|int4] [--int4-layout dq|matmulnbits] ... */
import { exportPackage } from '../backends/node/export/export-package.ts';
import { intFlag, parseFlags, progress, runMain, UsageError } from '../backends/node/cli.ts';

const USAGE =
  'usage: export-onnx <hf-dir> <out-dir> [--dtype fp32|fp16|int8|int4] [--int4-layout dq|matmulnbits] [--block-size 32] [--kernel auto|int8|float] [--embeddings fp32|fp16|int8] [--lm-head fp32|fp16|int8|int4] [--scales mse|absmax] [--topk 64] [--moe auto|dense|ort-moe] [--external-data auto|always|never] [--block-length 32] [--name NAME] [--force]';

runMain('export-onnx', async () => {
  const { values, positionals } = parseFlags(process.argv.slice(2), {
    dtype: { type: 'string' },
    'int4-layout': { type: 'string' },
    'block-size': { type: 'string' },
    kernel: { type: 'string' },
    embeddings: { type: 'string' },
    'lm-head': { type: 'string' },
    scales: { type: 'string' },
    topk: { type: 'string' },
    moe: { type: 'string' },
    'external-data': { type: 'string' },
    'block-length': { type: 'string' },
    name: { type: 'string' },
    force: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 2) throw new UsageError(USAGE);
  const oneOf = <T extends string>(
    v: string | undefined,
    name: string,
    allowed: readonly T[],
  ): T | undefined => {
    if (v !== undefined && !allowed.includes(v as T))
      throw new UsageError(
        `--${name} must be one of ${allowed.join('|')}, got ${JSON.stringify(v)}`,
      );
    return v as T | undefined;
  };
  if (values['int4-layout'] === 'matmulnbits')
    process.stderr.write(
      'export-onnx: note: the matmulnbits layout keeps int4 in memory (the smallest heap) but runs slower than fp32, most in onnxruntime-web; the default dq layout runs at fp32 or int8-kernel speed (docs/quantization.md)\n',
    );
  const started = performance.now();
  const manifest = await exportPackage({
    checkpointDir: positionals[0],
    outDir: positionals[1],
    dtype: oneOf(values.dtype, 'dtype', ['fp32', 'fp16', 'int8', 'int4'] as const),
    int4Layout: oneOf(values['int4-layout'], 'int4-layout', ['matmulnbits', 'dq'] as const),
    blockSize: intFlag(values['block-size'], 'block-size', 16),
    kernel: oneOf(values.kernel, 'kernel', ['auto', 'int8', 'float'] as const),
    embeddings: oneOf(values.embeddings, 'embeddings', ['fp32', 'fp16', 'int8'] as const),
    lmHead: oneOf(values['lm-head'], 'lm-head', ['fp32', 'fp16', 'int8', 'int4'] as const),
    scaleSearch: oneOf(values.scales, 'scales', ['mse', 'absmax'] as const)
      ? values.scales === 'mse'
      : undefined,
    topk: intFlag(values.topk, 'topk', 1),
    moe: oneOf(values.moe, 'moe', ['auto', 'dense', 'ort-moe'] as const),
    externalData: oneOf(values['external-data'], 'external-data', [
      'auto',
      'always',
      'never',
    ] as const),
    blockLength: intFlag(values['block-length'], 'block-length', 1),
    name: values.name,
    force: values.force,
    onProgress: progress('export'),
  });
  const bytes = manifest.files.reduce((s, f) => s + f.bytes, 0);
  process.stderr.write(
    `export-onnx: wrote ${positionals[1]} (${manifest.quantization.dtype}, ${(bytes / 1048576).toFixed(2)} MiB, ${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
  );
});
