import { decodeToFloat32 } from './src/model/safetensors.ts';
// replicate quantizeRows from moe.ts (not exported)
function quantizeRows(w: Float32Array, N: number, K: number, bits: 4 | 8, block: number) {
  const pack = 8 / bits; const zp = 1 << (bits - 1); const qmax = (1 << bits) - 1; const bs = block || K; const nb = K / bs;
  const q = new Uint8Array((N * K) / pack); const scales = new Float32Array(N * nb);
  for (let n = 0; n < N; n++) for (let b = 0; b < nb; b++) {
    let m = 0; for (let c = b * bs; c < (b + 1) * bs; c++) m = Math.max(m, Math.abs(w[n * K + c]));
    const scale = Math.fround(m / (zp - 1) || 1); scales[n * nb + b] = scale;
    for (let c = b * bs; c < (b + 1) * bs; c++) { const v = Math.min(qmax, Math.max(0, Math.round(w[n * K + c] / scale) + zp)); q[((n * K + c) / pack) | 0] |= v << ((c % pack) * bits); }
  }
  return { q, scales };
}
const w = new Float32Array(1024 * 2048).map(() => Math.random() - 0.5);
const bf = new Uint8Array(1024*2048*2).map(()=>Math.random()*255);
for (let r = 0; r < 3; r++) {
  let t = performance.now();
  for (let i = 0; i < 10; i++) quantizeRows(w, 1024, 2048, 4, 32);
  const q = (performance.now() - t) / 10;
  t = performance.now();
  for (let i = 0; i < 10; i++) decodeToFloat32('BF16', bf);
  const d = (performance.now() - t) / 10;
  console.log('quantize fc1 (2M values)', q.toFixed(1), 'ms; bf16 decode 2M', d.toFixed(1), 'ms');
}
