/**
 * @module
 * One optimisation step: the masked-diffusion loss of a step's batches (objective.ts, one forward per canvas
 * length), its gradients, the Adam update, and the aux-loss-free expert-bias update from the step's expert loads
 * (router.ts). Everything the step allocates is freed before it returns.
 */
import {
  forward,
  forwardConsts,
  type DemoModelConfig,
  type Params,
  type RouterState,
} from './model.ts';
import type { TrainBatch } from './objective.ts';
import { adamStep, type AdamOptions, type AdamState } from './optimizer.ts';
import { updateExpertBias } from './router.ts';
import { tf } from './tf.ts';

/**
 * Σ over masked positions of −log p(x_0) · 1/(t·(L − P)), divided by the step's sequences (so the groups of a
 * step add up to the batch mean). Call inside a tidy.
 */
export function diffusionLoss(
  c: DemoModelConfig,
  p: Params,
  b: TrainBatch,
  consts: ReturnType<typeof forwardConsts>,
  targets: tf.Tensor,
  weights: tf.Tensor,
  router?: RouterState,
): tf.Scalar {
  const logits = forward(c, p, b, consts, router);
  const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), targets), -1));
  return tf.div(tf.sum(tf.mul(nll, weights)), b.stepSequences) as tf.Scalar;
}

export interface StepResult {
  params: Params;
  state: AdamState;
  loss: number;
  gradNorm: number;
  /** Tokens routed to each expert in this step, per MoE layer (empty for a dense model). */
  loads: Map<number, Float64Array>;
}

export interface StepOptions extends AdamOptions {
  /** Expert-bias step γ (0: frozen bias). */
  biasRate: number;
}

/** One step; updates `bias` in place after the weights. */
export async function trainStep(
  c: DemoModelConfig,
  p: Params,
  s: AdamState,
  batches: TrainBatch[],
  bias: Map<number, Float32Array>,
  step: number,
  o: StepOptions,
): Promise<StepResult> {
  const loads = new Map([...bias.keys()].map((l) => [l, new Float64Array(c.experts)]));
  const router: RouterState = { bias, loads };
  const parts = batches.map((b) => ({
    b,
    consts: forwardConsts(c, b),
    targets: tf.tidy(() =>
      tf.reshape(tf.cast(tf.oneHot(tf.tensor1d(b.targets, 'int32'), c.vocab), 'float32'), [
        b.batch,
        b.noisyRows,
        c.vocab,
      ]),
    ),
    weights: tf.tensor(b.weights, [b.batch, b.noisyRows]),
  }));
  const names = Object.keys(p);
  try {
    const { value, grads } = tf.tidy(() =>
      tf.valueAndGrads((...ts: tf.Tensor[]) => {
        const q: Params = Object.fromEntries(names.map((n, i) => [n, ts[i]]));
        const losses = parts.map((x) =>
          diffusionLoss(c, q, x.b, x.consts, x.targets, x.weights, router),
        );
        return (losses.length === 1 ? losses[0] : tf.addN(losses)) as tf.Scalar;
      })(names.map((n) => p[n])),
    );
    const g: Params = Object.fromEntries(names.map((n, i) => [n, grads[i]]));
    const next = adamStep(p, g, s, step, o);
    const [loss, gradNorm] = [(await value.data())[0], (await next.gradNorm.data())[0]];
    value.dispose();
    next.gradNorm.dispose();
    for (const t of grads) t.dispose();
    if (o.biasRate > 0) for (const [l, b] of bias) updateExpertBias(b, loads.get(l)!, o.biasRate);
    return { params: next.params, state: next.state, loss, gradNorm, loads };
  } finally {
    for (const x of parts) {
      x.consts.dispose();
      x.targets.dispose();
      x.weights.dispose();
    }
  }
}
