/**
 * One package load in a fresh process for bench:load: `memory` (the in-memory loader, as the Worker uses) or `disk`
 * (stores/disk-package.ts, as the GPU server and the Node API use), through a store that is not a local directory,
 * so the download path runs. Prints {"mode","ms","peakRssMiB","baseRssMiB"} on stdout.
 */
import { loadPackage } from '../../src/model/loader.ts';
import type { BlobStore } from '../../src/model/store.ts';
import { DiskCache } from '../../backends/node/stores/disk-cache.ts';
import { diskPackage } from '../../backends/node/stores/disk-package.ts';
import { FsStore } from '../../backends/node/stores/fs-store.ts';

const [mode, dir, cacheDir] = process.argv.slice(2);
const fs = new FsStore(dir);
const remote: BlobStore = {
  location: `bench://${dir}`,
  get: (k, r) => fs.get(k, r),
  head: (k) => fs.head(k),
};
const MiB = 2 ** 20;
const rss = () => process.memoryUsage().rss / MiB;
const base = rss();
let peak = base;
const sampler = setInterval(() => {
  peak = Math.max(peak, rss());
}, 5);
const t0 = performance.now();
if (mode === 'memory') {
  const { files } = await loadPackage(remote, {});
  peak = Math.max(peak, rss());
  if (files.size === 0) throw new Error('nothing loaded');
} else {
  await diskPackage(remote, { cache: new DiskCache({ dir: cacheDir, maxBytes: 2 ** 40 }) });
}
const ms = performance.now() - t0;
peak = Math.max(peak, rss());
clearInterval(sampler);
process.stdout.write(`${JSON.stringify({ mode, ms, peakRssMiB: peak, baseRssMiB: base })}\n`);
