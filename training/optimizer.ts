/**
 * @module
 * Adam with global-norm gradient clipping and a warmup + cosine learning-rate schedule over a step horizon
 * (docs/training.md §1). The schedule depends on the step index only, so a run stopped early by its time limit
 * holds exactly the weights a longer run had at that step, and a resumed run continues bit for bit.
 */
import type { Params } from './model.ts';
import { tf } from './tf.ts';

export interface AdamOptions {
  lr: number;
  minLr: number;
  warmup: number;
  /** The step the cosine reaches minLr. */
  horizon: number;
  beta1: number;
  beta2: number;
  eps: number;
  clipNorm: number;
}

export const DEFAULT_ADAM: Omit<AdamOptions, 'horizon'> = {
  lr: 1e-3,
  minLr: 1e-4,
  warmup: 200,
  beta1: 0.9,
  beta2: 0.98,
  eps: 1e-8,
  clipNorm: 1,
};

export function learningRate(step: number, o: AdamOptions): number {
  if (step < o.warmup) return (o.lr * (step + 1)) / o.warmup;
  const span = Math.max(1, o.horizon - o.warmup);
  const progress = Math.min(1, (step - o.warmup) / span);
  return o.minLr + 0.5 * (o.lr - o.minLr) * (1 + Math.cos(Math.PI * progress));
}

export interface AdamState {
  m: Params;
  v: Params;
}

export function zeroState(p: Params): AdamState {
  const zeros = () =>
    Object.fromEntries(Object.entries(p).map(([k, t]) => [k, tf.keep(tf.zerosLike(t))]));
  return { m: zeros(), v: zeros() };
}

/**
 * One update at 0-based `step`. Disposes the old parameters and moments, returns the new ones and the gradient
 * norm before clipping.
 */
export function adamStep(
  p: Params,
  grads: Params,
  s: AdamState,
  step: number,
  o: AdamOptions,
): { params: Params; state: AdamState; gradNorm: tf.Scalar } {
  const lr = learningRate(step, o);
  const t = step + 1;
  const result = tf.tidy(() => {
    const names = Object.keys(p);
    const sq = names.map((n) => tf.sum(tf.square(grads[n])));
    const norm = tf.sqrt(tf.addN(sq));
    const scale = tf.minimum(tf.scalar(1), tf.div(tf.scalar(o.clipNorm), tf.add(norm, 1e-6)));
    const params: Params = {};
    const m: Params = {};
    const v: Params = {};
    const c1 = 1 - Math.pow(o.beta1, t);
    const c2 = 1 - Math.pow(o.beta2, t);
    for (const n of names) {
      const g = tf.mul(grads[n], scale);
      m[n] = tf.add(tf.mul(s.m[n], o.beta1), tf.mul(g, 1 - o.beta1));
      v[n] = tf.add(tf.mul(s.v[n], o.beta2), tf.mul(tf.square(g), 1 - o.beta2));
      const update = tf.div(tf.div(m[n], c1), tf.add(tf.sqrt(tf.div(v[n], c2)), o.eps));
      params[n] = tf.sub(p[n], tf.mul(update, lr));
    }
    return { params, m, v, norm };
  });
  for (const n of Object.keys(p)) {
    p[n].dispose();
    s.m[n].dispose();
    s.v[n].dispose();
  }
  return {
    params: result.params,
    state: { m: result.m, v: result.v },
    gradNorm: result.norm as tf.Scalar,
  };
}
