// Write a deterministic random LLaDA2-MoE checkpoint (HF layout) for tests and demos.
// Usage: npm run make-tiny-model -- --out DIR [--seed N] [--layers L] [--hidden H] [--heads N] [--kv-heads N]
//   [--head-dim D] [--experts E] [--experts-per-tok K] [--groups G] [--topk-group G] [--shared-experts N]
//   [--dense-layers N] [--intermediate N] [--moe-intermediate N] [--vocab V] [--rotary-factor F] [--rope-theta T]
//   [--max-positions N] [--dtype f32|bf16|f16] [--shards N] [--tie-embeddings] [--no-qk-norm]
import { makeTinyModel } from '../backends/node/export/make-tiny-model.ts';
import { TinyOptionsError, parseTinyArgs } from '../src/export/tiny/options.ts';

try {
  const options = parseTinyArgs(process.argv.slice(2));
  await makeTinyModel({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
} catch (e) {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`make-tiny-model: ${message.split('\n')[0]}\n`);
  process.exit(e instanceof TinyOptionsError ? 2 : 1);
}
