const n: any = await import('onnxruntime-node');
console.log(n.env.versions);
const w: any = await import('onnxruntime-web/wasm');
console.log(w.env.versions);
