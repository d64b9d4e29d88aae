/** Test helper: drains a decode stream into typed lists. */
import type { BlockEvent, DecodeEvent, DecodeResult, StepEvent } from '../events.ts';

export interface Collected {
  steps: StepEvent[];
  blocks: BlockEvent[];
  result: DecodeResult;
}

export async function collect(stream: AsyncIterable<DecodeEvent>): Promise<Collected> {
  const steps: StepEvent[] = [];
  const blocks: BlockEvent[] = [];
  for await (const ev of stream) {
    if (ev.type === 'step') steps.push(ev);
    else if (ev.type === 'block') blocks.push(ev);
    else return { steps, blocks, result: ev.result };
  }
  throw new Error('stream ended without a done event');
}
