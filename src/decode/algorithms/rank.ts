/** Shared selection helpers. Ties in confidence go to the lower position (torch.topk leaves them undefined). */
import { DecodeOptionsError } from '../errors.ts';
import type { AlgorithmParams, StepView } from './types.ts';

/** Masked offsets by confidence, descending; equal confidence keeps the lower offset first (stable sort). */
export function rankMasked(view: StepView): number[] {
  const order: number[] = [];
  for (let i = 0; i < view.size; i++) if (view.masked[i]) order.push(i);
  return order.sort((a, b) =>
    view.conf[b] > view.conf[a] ? 1 : view.conf[b] < view.conf[a] ? -1 : 0,
  );
}

/** Adds the best-ranked unselected masked offsets until `quota` are selected; returns the selected count. */
export function topUp(pick: Uint8Array, view: StepView): number {
  let count = 0;
  for (let i = 0; i < view.size; i++) {
    if (pick[i] && !view.masked[i]) pick[i] = 0;
    count += pick[i];
  }
  if (count >= view.quota) return count;
  for (const i of rankMasked(view)) {
    if (count >= view.quota) break;
    if (!pick[i]) {
      pick[i] = 1;
      count++;
    }
  }
  return count;
}

/** Reads one numeric algorithm parameter with a default, checking lo < v <= hi (or lo <= v when loInclusive). */
export function numberParam(
  params: AlgorithmParams,
  name: string,
  fallback: number,
  range: { lo: number; hi: number; loInclusive?: boolean },
): number {
  const v = params[name] ?? fallback;
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    v <= range.hi &&
    (range.loInclusive ? v >= range.lo : v > range.lo);
  if (!ok) {
    const open = range.loInclusive ? '[' : '(';
    throw new DecodeOptionsError(
      'algorithmParams',
      `must be a number in ${open}${range.lo}, ${range.hi}]`,
      { knob: name },
    );
  }
  return v;
}

export function booleanParam(params: AlgorithmParams, name: string, fallback: boolean): boolean {
  const v = params[name] ?? fallback;
  if (typeof v !== 'boolean')
    throw new DecodeOptionsError('algorithmParams', 'must be a boolean', { knob: name });
  return v;
}
