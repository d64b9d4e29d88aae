/**
 * @module
 * tfjs set-up for training in Node (docs/training.md §2): the core package plus the wasm backend (SIMD, one
 * thread; workers do not start in Node), with the gradient registry loaded explicitly. Its ESM files use
 * extensionless imports that Node's resolver refuses, so it is required through tsx's CommonJS loader.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';

createRequire(import.meta.url)('@tensorflow/tfjs-core/dist/register_all_gradients');

export type TfBackend = 'wasm' | 'cpu';

let ready: Promise<void> | undefined;
let chosen: TfBackend | undefined;

/** Selects the backend once per process (the first caller wins); wasm is about 20× faster than cpu. */
export function initTf(backend: TfBackend = 'wasm'): Promise<void> {
  if (chosen !== undefined && chosen !== backend)
    return Promise.reject(new Error(`tfjs backend already set to ${chosen}`));
  chosen = backend;
  ready ??= (async () => {
    if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} failed to start`);
    await tf.ready();
  })();
  return ready;
}

export { tf };
