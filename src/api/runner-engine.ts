/** A ModelEngine over an in-process BlockRunner (ORT-web in the Worker, ORT-node on a server). */
import { decode, type PrefixCache } from '../decode/index.ts';
import type { BlockRunner } from '../decode/runner.ts';
import type { TextCodec } from '../model/text-codec.ts';
import type { ModelEngine, OpenModel } from './engine.ts';
import { FairTurns, type ShareKey } from './fair-turns.ts';
import { beginForeground } from './foreground.ts';

export interface RunnerEngineOptions {
  id: string;
  backend: string;
  ownedBy?: string;
  /** Loads the model; called lazily, retried on the next open() after a failure. */
  load: () => Promise<{ runner: BlockRunner; codec: TextCodec }>;
  /** Prompt prefixes shared across this engine's requests (default: none). */
  prefixCache?: PrefixCache;
}

/**
 * In-process inference is CPU-bound and a forward never yields, so a generation would hold the isolate until it
 * ends; every forward takes a turn instead (FairTurns: a macrotask before each forward, the next turn to the
 * waiting tenant that used the model least lately, charged the tokens it processes), so concurrent generations
 * interleave step by step and neither a tenant with many requests in flight nor one with long ones crowds out a
 * tenant making a small request.
 */
function takingTurns(runner: BlockRunner, turns: FairTurns, share: ShareKey): BlockRunner {
  return {
    info: runner.info,
    truncate: (state, length) => runner.truncate(state, length),
    ...(runner.release ? { release: (state) => runner.release!(state) } : {}),
    forward: async (input) => {
      // Large bodies' parsing defers to forwards waiting or running (foreground.ts).
      const end = beginForeground();
      try {
        await turns.take(share, { cost: input.ids.length });
        return await runner.forward(input);
      } finally {
        end();
      }
    },
  };
}

export function runnerEngine({
  id,
  backend,
  ownedBy = 'unmask',
  load,
  prefixCache,
}: RunnerEngineOptions): ModelEngine {
  let pending: Promise<OpenModel> | undefined;
  return {
    id,
    backend,
    ownedBy,
    open() {
      pending ??= load().then(({ runner, codec }) => {
        const turns = new FairTurns();
        return {
          codec,
          info: runner.info,
          decode: (promptIds, options, context) =>
            decode(
              takingTurns(runner, turns, context?.share ?? ''),
              promptIds,
              prefixCache ? { prefixCache, ...options } : options,
            ),
        };
      });
      pending.catch(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}
