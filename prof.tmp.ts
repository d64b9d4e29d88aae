import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifest } from './src/model/manifest.ts';
import { sessionOptions } from './src/ort/session-options.ts';
import { SessionRunner } from './src/ort/session-runner.ts';
const dir = process.argv[2];
const m = parseManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
const opts = { ...sessionOptions(m, { provider: 'cpu' }), enableProfiling: process.argv[3] === 'prof', profileFilePrefix: '/tmp/ortprof' };
let t = performance.now();
const session = await ort.InferenceSession.create(join(dir, m.graph.file), opts);
console.log('session', ((performance.now() - t) / 1000).toFixed(1), 's', 'rss', (process.memoryUsage.rss() / 2 ** 30).toFixed(2), 'GiB hwm', (process.resourceUsage().maxRSS / 2 ** 20).toFixed(2));
const runner = new SessionRunner({ ort: ort as never, session, manifest: m });
const B = 32;
const input = { batch: 1, seq: B, ids: Int32Array.from({ length: B }, (_, i) => 3 + i), positions: Int32Array.from({ length: B }, (_, i) => i), visibility: new Uint8Array(B * B).fill(1), past: null, wantLogits: false, wantPresent: true };
for (let i = 0; i < 3; i++) { t = performance.now(); await runner.forward(input); console.log('forward', (performance.now() - t).toFixed(0), 'ms'); }
if (process.argv[3] === 'prof') console.log('profile', session.endProfiling?.());
