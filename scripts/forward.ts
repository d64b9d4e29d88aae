/**
 * CLI (contract): npm run forward -- --model <package-dir|s3://bucket/prefix> --ids 3,17,42 [--block-length 32] [--runtime node|wasm] --json
 * One forward over the ids with block-causal visibility and positions 0..L-1; prints {"shape":[L,V],"logits":[[...]]}.
 */
import { intFlag, parseFlags, runMain, UsageError } from '../backends/node/cli.ts';
import { openModel, RUNTIMES, type Runtime } from '../backends/node/open-model.ts';
import { blockCausalVisibility } from '../src/decode/visibility.ts';

const USAGE =
  'usage: forward --model <package-dir|s3://bucket/prefix> --ids 3,17,42 [--block-length 32] [--runtime node|wasm] [--json]';

runMain('forward', async () => {
  const { values } = parseFlags(
    process.argv.slice(2),
    {
      model: { type: 'string' },
      ids: { type: 'string' },
      'block-length': { type: 'string' },
      runtime: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    false,
  );
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.model || !values.ids) throw new UsageError(USAGE);
  const runtime = (values.runtime ?? 'node') as Runtime;
  if (!RUNTIMES.includes(runtime))
    throw new UsageError(`--runtime must be one of ${RUNTIMES.join('|')}`);
  const ids = values.ids.split(',').map((s) => {
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isInteger(n))
      throw new UsageError(`--ids must be comma-separated integers, got ${JSON.stringify(s)}`);
    return n;
  });
  const model = await openModel(values.model, { runtime });
  const block =
    intFlag(values['block-length'], 'block-length', 1) ?? model.manifest.decode.block_length;
  const { vocabSize, maxPositions } = model.runner.info;
  const bad = ids.find((t) => t < 0 || t >= vocabSize);
  if (bad !== undefined)
    throw new UsageError(`token id ${bad} is outside the vocabulary [0, ${vocabSize})`);
  if (ids.length > maxPositions)
    throw new UsageError(`${ids.length} ids exceed max positions ${maxPositions}`);
  const L = ids.length;
  const out = await model.runner.forward({
    batch: 1,
    seq: L,
    ids: Int32Array.from(ids),
    positions: Int32Array.from(ids, (_, i) => i),
    visibility: blockCausalVisibility(0, 0, L, block),
    past: null,
    wantLogits: true,
    wantPresent: false,
  });
  const logits = out.logits!;
  const rows: number[][] = [];
  for (let i = 0; i < L; i++)
    rows.push(Array.from(logits.subarray(i * vocabSize, (i + 1) * vocabSize)));
  const result = { shape: [L, vocabSize], logits: rows };
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    for (let i = 0; i < L; i++) {
      const row = rows[i];
      let best = 0;
      for (let v = 1; v < vocabSize; v++) if (row[v] > row[best]) best = v;
      console.log(`pos ${i} id ${ids[i]} → argmax ${best} (logit ${row[best].toFixed(4)})`);
    }
  }
});
