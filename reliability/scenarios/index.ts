/** The scenarios, in the order the suite runs them (the heaviest attacks last). */
import type { Scenario } from '../context.ts';
import { adversarial } from './adversarial.ts';
import { crash } from './crash.ts';
import { disconnects } from './disconnects.ts';
import { injection } from './injection.ts';
import { limits } from './limits.ts';
import { slowReaders } from './slow-readers.ts';

export const SCENARIOS: Scenario[] = [
  limits,
  disconnects,
  injection,
  slowReaders,
  crash,
  adversarial,
];
