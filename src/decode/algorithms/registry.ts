/** The explicit list of commit algorithms (a bundle cannot scan a folder). Add a file, then add it here. */
import { DecodeOptionsError } from '../errors.ts';
import { entropyThreshold } from './entropy-threshold.ts';
import { factor } from './factor.ts';
import { hierarchy } from './hierarchy.ts';
import { lowConfidence } from './low-confidence.ts';
import type { AlgorithmFactory, AlgorithmParams, DecodeAlgorithm } from './types.ts';

export const DEFAULT_ALGORITHM = 'low_confidence';

export const ALGORITHMS: Readonly<Record<string, AlgorithmFactory>> = Object.freeze({
  [lowConfidence.name]: lowConfidence,
  [hierarchy.name]: hierarchy,
  [factor.name]: factor,
  [entropyThreshold.name]: entropyThreshold,
});

export function algorithmNames(): string[] {
  return Object.keys(ALGORITHMS);
}

/** Builds a configured algorithm; an unknown name or parameter is a DecodeOptionsError listing the known ones. */
export function createAlgorithm(name: string, params: AlgorithmParams = {}): DecodeAlgorithm {
  const factory = Object.hasOwn(ALGORITHMS, name) ? ALGORITHMS[name] : undefined;
  if (!factory) {
    throw new DecodeOptionsError(
      'algorithm',
      `unknown algorithm "${name}"; known: ${algorithmNames().join(', ')}`,
    );
  }
  for (const key of Object.keys(params)) {
    if (!factory.params.includes(key)) {
      const known = factory.params.length > 0 ? factory.params.join(', ') : 'none';
      throw new DecodeOptionsError(
        'algorithmParams',
        `unknown parameter for "${name}"; known: ${known}`,
        {
          knob: key,
        },
      );
    }
  }
  return factory.create(params);
}
