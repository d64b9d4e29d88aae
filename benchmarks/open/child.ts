/**
 * One openModel in a fresh process for bench:open (so no session, page cache aside, carries over): verification
 * by `UNMASK_VERIFY` (stamp | full) with stamps in the given cache dir, then the onnxruntime-node session
 * (1 intra-op thread). Prints {"verifyMs","sessionMs","totalMs"} on stdout.
 */
import { openModel } from '../../backends/node/open-model.ts';

const [dir, verify, cacheDir] = process.argv.slice(2);
const t0 = performance.now();
const model = await openModel(dir, {
  threads: 1,
  env: { ...process.env, UNMASK_VERIFY: verify, UNMASK_CACHE_DIR: cacheDir },
});
const totalMs = performance.now() - t0;
await model.close();
process.stdout.write(
  `${JSON.stringify({ verifyMs: model.fetchMs, sessionMs: model.sessionMs, totalMs })}\n`,
);
