/** A ModelEngine over an in-process BlockRunner (ORT-web in the Worker, ORT-node on a server). */
import { decode, type PrefixCache } from '../decode/index.ts';
import type { BlockRunner } from '../decode/runner.ts';
import type { TextCodec } from '../model/text-codec.ts';
import type { ModelEngine, OpenModel } from './engine.ts';

export interface RunnerEngineOptions {
  id: string;
  backend: string;
  ownedBy?: string;
  /** Loads the model; called lazily, retried on the next open() after a failure. */
  load: () => Promise<{ runner: BlockRunner; codec: TextCodec }>;
  /** Prompt prefixes shared across this engine's requests (default: none). */
  prefixCache?: PrefixCache;
}

/** A macrotask boundary: lets other requests (health, admissions, other streams) run between forwards. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * In-process inference is CPU-bound and a forward never yields, so a generation would hold the isolate until it
 * ends; yielding before each forward interleaves concurrent generations step by step instead.
 */
function interleaved(runner: BlockRunner): BlockRunner {
  return {
    info: runner.info,
    truncate: (state, length) => runner.truncate(state, length),
    ...(runner.release ? { release: (state) => runner.release!(state) } : {}),
    forward: async (input) => {
      await yieldToEventLoop();
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
        const fair = interleaved(runner);
        return {
          codec,
          info: runner.info,
          decode: (promptIds, options) =>
            decode(fair, promptIds, prefixCache ? { prefixCache, ...options } : options),
        };
      });
      pending.catch(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}
