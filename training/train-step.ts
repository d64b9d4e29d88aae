/**
 * @module
 * One optimisation step: the masked-diffusion loss of a batch (objective.ts), its gradients, and the Adam
 * update. Everything the step allocates is freed before it returns.
 */
import { forward, forwardConsts, type DemoModelConfig, type Params } from './model.ts';
import type { TrainBatch } from './objective.ts';
import { adamStep, type AdamOptions, type AdamState } from './optimizer.ts';
import { tf } from './tf.ts';

/** Σ over masked positions of −log p(x_0) · 1/(t·(L − P)), averaged over the batch. Call inside a tidy. */
export function diffusionLoss(
  c: DemoModelConfig,
  p: Params,
  b: TrainBatch,
  consts: ReturnType<typeof forwardConsts>,
  targets: tf.Tensor,
  weights: tf.Tensor,
): tf.Scalar {
  const logits = forward(c, p, b, consts);
  const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), targets), -1));
  return tf.div(tf.sum(tf.mul(nll, weights)), b.batch) as tf.Scalar;
}

export interface StepResult {
  params: Params;
  state: AdamState;
  loss: number;
  gradNorm: number;
}

export async function trainStep(
  c: DemoModelConfig,
  p: Params,
  s: AdamState,
  b: TrainBatch,
  step: number,
  o: AdamOptions,
): Promise<StepResult> {
  const consts = forwardConsts(c, b);
  const targets = tf.tidy(() =>
    tf.reshape(tf.cast(tf.oneHot(tf.tensor1d(b.targets, 'int32'), c.vocab), 'float32'), [
      b.batch,
      b.noisyRows,
      c.vocab,
    ]),
  );
  const weights = tf.tensor(b.weights, [b.batch, b.noisyRows]);
  const names = Object.keys(p);
  try {
    const { value, grads } = tf.tidy(() =>
      tf.valueAndGrads((...ts: tf.Tensor[]) => {
        const q: Params = Object.fromEntries(names.map((n, i) => [n, ts[i]]));
        return diffusionLoss(c, q, b, consts, targets, weights);
      })(names.map((n) => p[n])),
    );
    const g: Params = Object.fromEntries(names.map((n, i) => [n, grads[i]]));
    const next = adamStep(p, g, s, step, o);
    const [loss, gradNorm] = [(await value.data())[0], (await next.gradNorm.data())[0]];
    value.dispose();
    next.gradNorm.dispose();
    for (const t of grads) t.dispose();
    return { params: next.params, state: next.state, loss, gradNorm };
  } finally {
    consts.dispose();
    targets.dispose();
    weights.dispose();
  }
}
