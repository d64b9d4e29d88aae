/** A ModelEngine over an in-process BlockRunner (ORT-web in the Worker, ORT-node on a server). */
import { decode, type PrefixCache } from '../decode/index.ts';
import type { BlockRunner } from '../decode/runner.ts';
import type { TextCodec } from '../model/text-codec.ts';
import type { ModelEngine, OpenModel } from './engine.ts';
import { FairTurns, type ShareKey } from './fair-turns.ts';

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
 * ends; every forward takes a turn instead (FairTurns: a macrotask before each forward, one forward per tenant
 * per round), so concurrent generations interleave step by step and a tenant with many requests in flight does
 * not crowd out one with a single request.
 */
function takingTurns(runner: BlockRunner, turns: FairTurns, share: ShareKey): BlockRunner {
  return {
    info: runner.info,
    truncate: (state, length) => runner.truncate(state, length),
    ...(runner.release ? { release: (state) => runner.release!(state) } : {}),
    forward: async (input) => {
      await turns.take(share);
      return runner.forward(input);
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
