/** A ModelEngine over an in-process BlockRunner (ORT-web in the Worker, ORT-node on a server). */
import { decode } from '../decode/index.ts';
import type { BlockRunner } from '../decode/runner.ts';
import type { TextCodec } from '../model/text-codec.ts';
import type { ModelEngine, OpenModel } from './engine.ts';

export interface RunnerEngineOptions {
  id: string;
  backend: string;
  ownedBy?: string;
  /** Loads the model; called lazily, retried on the next open() after a failure. */
  load: () => Promise<{ runner: BlockRunner; codec: TextCodec }>;
}

export function runnerEngine({ id, backend, ownedBy = 'unmask', load }: RunnerEngineOptions): ModelEngine {
  let pending: Promise<OpenModel> | undefined;
  return {
    id, backend, ownedBy,
    open() {
      pending ??= load().then(({ runner, codec }) => ({
        codec,
        info: runner.info,
        decode: (promptIds, options) => decode(runner, promptIds, options),
      }));
      pending.catch(() => { pending = undefined; });
      return pending;
    },
  };
}
