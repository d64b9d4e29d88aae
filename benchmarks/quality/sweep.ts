/**
 * @module
 * The accuracy ↔ parallelism sweep of `npm run bench:quality` (the tech report's Fig. 4 in miniature): exact
 * match on held-out prompts per task × commit algorithm × threshold, with tokens per forward, forwards and
 * wall time per answer, against the same model decoded one token per forward (threshold 1.0, low_confidence:
 * only the top-1 fallback ever commits).
 */
import type { EvalResult } from '../../training/evaluate.ts';
import { TASKS, heldOutExamples, type TaskExample } from '../../training/tasks.ts';

export const DEFAULT_THRESHOLDS = [0.5, 0.7, 0.9, 0.95] as const;
export const DEFAULT_ALGORITHMS = [
  'low_confidence',
  'hierarchy',
  'factor',
  'entropy_threshold',
] as const;
/** The AR-style baseline: nothing clears a threshold of 1, so each forward commits its single most confident token. */
export const BASELINE = { algorithm: 'low_confidence', threshold: 1 } as const;
export const MAX_TOKENS = 16;
/**
 * Rules that read the request's threshold. The others (factor, entropy_threshold) have their own knob and run
 * once with its default: sweeping a threshold they ignore would only repeat one point.
 */
export const THRESHOLD_ALGORITHMS: readonly string[] = ['low_confidence', 'hierarchy'];

export interface SweepPoint extends Omit<EvalResult, 'failures'> {
  algorithm: string;
  /** null: the rule ignores the threshold (run with its defaults). */
  threshold: number | null;
}

export interface Speedup {
  /** Baseline forwards per answer ÷ those of the best setting with accuracy ≥ the baseline's (null: none qualifies). */
  forwards: number | null;
  /** The same with wall time per answer. */
  wall: number | null;
  /** The setting with the fewest forwards among those that qualify. */
  setting: { algorithm: string; threshold: number | null } | null;
}

export interface TaskSweep {
  task: string;
  examples: number;
  baseline: SweepPoint;
  points: SweepPoint[];
  /** low_confidence at threshold 0.9 (null when 0.9 is not in the sweep). */
  accuracyAt09: number | null;
  speedup: Speedup;
  /** The same, accepting settings up to one point (0.01) below the baseline's accuracy. */
  speedupWithin1pt: Speedup;
}

/** One setting of the sweep; threshold omitted: the rule's own default. */
export interface SweepSetting {
  algorithm: string;
  threshold?: number;
  maxTokens: number;
}

/** Greedy exact match of some decoder on examples: a local runner (evaluateExamples) or a served API (evaluateViaApi). */
export type Evaluate = (examples: TaskExample[], setting: SweepSetting) => Promise<EvalResult>;

export interface SweepOptions {
  evaluate: Evaluate;
  tasks: string[];
  limit: number;
  thresholds: readonly number[];
  algorithms: readonly string[];
  /** After each setting, with up to five wrong answers. */
  onPoint?: (task: string, p: SweepPoint, failures: EvalResult['failures']) => void;
}

export async function runSweep(o: SweepOptions): Promise<TaskSweep[]> {
  const [sweeps] = await runSweeps({
    ...o,
    evaluators: [o.evaluate],
    onPoint: o.onPoint && ((_, task, p, failures) => o.onPoint!(task, p, failures)),
  });
  return sweeps;
}

export interface MultiSweepOptions extends Omit<SweepOptions, 'evaluate' | 'onPoint'> {
  /** One per model; each setting runs on all of them in turn, so machine load hits them alike. */
  evaluators: Evaluate[];
  onPoint?: (
    evaluator: number,
    task: string,
    p: SweepPoint,
    failures: EvalResult['failures'],
  ) => void;
}

/** The sweep for several models side by side: TaskSweep[] per evaluator, in the evaluators' order. */
export async function runSweeps(o: MultiSweepOptions): Promise<TaskSweep[][]> {
  const out: TaskSweep[][] = o.evaluators.map(() => []);
  for (const task of o.tasks) {
    const examples = heldOutExamples(TASKS[task], o.limit);
    const runAll = async (algorithm: string, threshold: number | null): Promise<SweepPoint[]> => {
      const points: SweepPoint[] = [];
      for (const [i, evaluate] of o.evaluators.entries()) {
        const { failures, ...r } = await evaluate(examples, {
          algorithm,
          maxTokens: MAX_TOKENS,
          ...(threshold === null ? {} : { threshold }),
        });
        const p = { algorithm, threshold, ...r };
        o.onPoint?.(i, task, p, failures);
        points.push(p);
      }
      return points;
    };
    // Warm the runtimes (first-call allocations) so the first measured setting is not charged for it.
    for (const evaluate of o.evaluators)
      await evaluate(examples.slice(0, 3), {
        algorithm: BASELINE.algorithm,
        maxTokens: MAX_TOKENS,
      });
    const baselines = await runAll(BASELINE.algorithm, BASELINE.threshold);
    const points: SweepPoint[][] = o.evaluators.map(() => []);
    for (const algorithm of o.algorithms) {
      const thresholds = THRESHOLD_ALGORITHMS.includes(algorithm) ? o.thresholds : [null];
      for (const threshold of thresholds)
        (await runAll(algorithm, threshold)).forEach((p, i) => points[i].push(p));
    }
    o.evaluators.forEach((_, i) => {
      const baseline = baselines[i];
      const at09 = points[i].find((p) => p.algorithm === 'low_confidence' && p.threshold === 0.9);
      out[i].push({
        task,
        examples: examples.length,
        baseline,
        points: points[i],
        accuracyAt09: at09 ? at09.accuracy : null,
        speedup: speedupAtEqualAccuracy(baseline, points[i]),
        speedupWithin1pt: speedupAtEqualAccuracy(baseline, points[i], 0.01),
      });
    });
  }
  return out;
}

/** Baseline cost ÷ the cheapest setting whose accuracy is at least the baseline's minus `tolerance`. */
export function speedupAtEqualAccuracy(
  baseline: SweepPoint,
  points: SweepPoint[],
  tolerance = 0,
): Speedup {
  const ok = points.filter((p) => p.accuracy >= baseline.accuracy - tolerance - 1e-12);
  if (ok.length === 0) return { forwards: null, wall: null, setting: null };
  const byForwards = ok.reduce((a, b) => (b.forwardsPerAnswer < a.forwardsPerAnswer ? b : a));
  const byWall = ok.reduce((a, b) => (b.msPerAnswer < a.msPerAnswer ? b : a));
  return {
    forwards: baseline.forwardsPerAnswer / byForwards.forwardsPerAnswer,
    wall: byWall.msPerAnswer > 0 ? baseline.msPerAnswer / byWall.msPerAnswer : null,
    setting: { algorithm: byForwards.algorithm, threshold: byForwards.threshold },
  };
}
