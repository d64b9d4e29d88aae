/**
 * The edge model with the GPU pool behind it: each generation runs on the edge when it fits what the edge may
 * do (prompt + max_tokens within the route's limit and the edge model's context), and on the pool otherwise.
 * Both must serve the same model (same tokenizer): the prompt is tokenized once, with the edge's codec.
 */
import {
  planDecode,
  type DecodeEvent,
  type DecodeOptions,
  type RunnerInfo,
} from '../decode/index.ts';
import type { DecodeContext, ModelEngine, OpenModel } from '../api/engine.ts';
import { DispatchConfigError } from './config.ts';
import type { PoolEngine } from './types.ts';

export interface SplitEngineOptions {
  edge: ModelEngine;
  pool: PoolEngine;
  /** Prompt + max_tokens the edge accepts. Default: the edge model's context. */
  edgeMaxTokens?: number;
  /**
   * How long open() waits for the pool's description (for its larger context) before settling for the edge's
   * limits. Default 2 000 ms. After a miss, opens skip the pool for `describeRetryMs` (default 30 000 ms), so a
   * down pool does not slow the edge's requests; a request too large for the edge still tries the pool.
   */
  describeWaitMs?: number;
  describeRetryMs?: number;
  /** Default Date.now. */
  now?: () => number;
}

function compatible(a: RunnerInfo, b: RunnerInfo): boolean {
  return a.vocabSize === b.vocabSize && a.maskId === b.maskId && a.eosId === b.eosId;
}

/** Whether a generation fits the edge: within the limit, and a canvas the edge model can hold. */
export function fitsEdge(
  info: RunnerInfo,
  limit: number,
  promptIds: number[],
  options: DecodeOptions,
): boolean {
  if (promptIds.length + (options.maxTokens ?? Infinity) > limit) return false;
  try {
    planDecode(info, promptIds, options);
    return true;
  } catch {
    return false;
  }
}

async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** @example splitEngine({ edge, pool, edgeMaxTokens: 1024 }) */
export function splitEngine({
  edge,
  pool,
  edgeMaxTokens,
  describeWaitMs = 2_000,
  describeRetryMs = 30_000,
  now = Date.now,
}: SplitEngineOptions): ModelEngine {
  let skipPoolUntil = 0;
  return {
    id: edge.id,
    backend: `${edge.backend}+${pool.backend}`,
    ownedBy: edge.ownedBy,
    async open(): Promise<OpenModel> {
      const remoteP =
        now() < skipPoolUntil ? Promise.resolve(undefined) : within(pool.open(), describeWaitMs);
      const local = await edge.open();
      const remote = await remoteP;
      if (!remote && now() >= skipPoolUntil) skipPoolUntil = now() + describeRetryMs;
      if (remote && !compatible(local.info, remote.info)) {
        throw new DispatchConfigError(
          `the pool's '${pool.id}' is not the edge's model (vocabulary or special ids differ)`,
        );
      }
      const limit = Math.min(edgeMaxTokens ?? Infinity, local.info.maxPositions);
      const info = remote
        ? {
            ...local.info,
            maxPositions: Math.max(local.info.maxPositions, remote.info.maxPositions),
          }
        : local.info;
      let served: string | undefined;
      async function* decode(
        promptIds: number[],
        options: DecodeOptions,
        context?: DecodeContext,
      ): AsyncGenerator<DecodeEvent> {
        if (fitsEdge(local.info, limit, promptIds, options)) {
          served = edge.backend;
          yield* local.decode(promptIds, options, context);
          return;
        }
        served = pool.backend;
        // Inside the stream: a cold pool's wait is covered by the API's keep-alives.
        const model = remote ?? (await pool.open());
        yield* model.decode(promptIds, options, context);
      }
      return {
        codec: local.codec,
        info,
        decode,
        get backend() {
          return served;
        },
      };
    },
  };
}
