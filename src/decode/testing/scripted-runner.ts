/**
 * A fake BlockRunner for golden tests: the test scripts the logits of every row (by absolute position and the
 * forward's inputs). It checks the inputs' shapes, records every call, and keeps no real K/V.
 */
import type { BlockRunner, ForwardInput, ForwardOutput, KvState, RunnerInfo } from '../runner.ts';
import { headOutput } from './head.ts';

export interface ScriptCall {
  /** 0-based forward number. */
  readonly index: number;
  readonly ids: Int32Array;
  readonly positions: Int32Array;
  readonly pastLength: number;
  readonly visibility: Uint8Array;
  readonly wantLogits: boolean;
  readonly wantPresent: boolean;
}

/** Logits (length vocab) for the row at `position`; `token` is the input token there. */
export type RowScript = (position: number, token: number, call: ScriptCall) => ArrayLike<number>;

export const SCRIPTED_INFO: RunnerInfo = {
  vocabSize: 16,
  topK: 4,
  maskId: 15,
  eosId: 14,
  maxPositions: 256,
  blockLength: 4,
};

/**
 * Logits whose softmax gives `prob` to `token` and shares the rest evenly; `second` optionally gets `p2` of it.
 * Handy to script confidences.
 */
export function peaked(
  vocab: number,
  token: number,
  prob: number,
  second?: { token: number; prob: number },
): number[] {
  const rest = (1 - prob - (second?.prob ?? 0)) / (vocab - 1 - (second ? 1 : 0));
  const logits = new Array<number>(vocab).fill(Math.log(Math.max(rest, 1e-30)));
  logits[token] = Math.log(prob);
  if (second) logits[second.token] = Math.log(second.prob);
  return logits;
}

export class ScriptedRunner implements BlockRunner {
  readonly info: RunnerInfo;
  readonly calls: ScriptCall[] = [];
  /** Called before each forward returns; tests use it to abort mid-generation. */
  onForward?: (call: ScriptCall) => void;

  constructor(
    private readonly script: RowScript,
    info: Partial<RunnerInfo> = {},
  ) {
    this.info = { ...SCRIPTED_INFO, ...info };
  }

  get forwards(): number {
    return this.calls.length;
  }

  async forward(input: ForwardInput): Promise<ForwardOutput> {
    const { seq, ids, positions, visibility, wantLogits, wantPresent } = input;
    const pastLength = input.past?.length ?? 0;
    if (
      ids.length !== seq ||
      positions.length !== seq ||
      visibility.length !== seq * (pastLength + seq)
    ) {
      throw new Error('scripted runner: input shapes disagree');
    }
    const call: ScriptCall = {
      index: this.calls.length,
      ids,
      positions,
      pastLength,
      visibility,
      wantLogits,
      wantPresent,
    };
    this.calls.push(call);
    const V = this.info.vocabSize;
    const logits = new Float64Array(seq * V);
    for (let r = 0; r < seq; r++) {
      const row = this.script(positions[r], ids[r], call);
      for (let j = 0; j < V; j++) logits[r * V + j] = row[j];
    }
    const out = headOutput(logits, seq, V, this.info.topK, wantLogits);
    this.onForward?.(call);
    return wantPresent ? { ...out, present: { length: pastLength + seq, batch: 1 } } : out;
  }

  truncate(_state: KvState, length: number): KvState {
    return { length, batch: 1 };
  }
}

/** A script from a table: position → [token, prob] (optionally per forward); unlisted rows are flat-ish on token 0. */
export function table(
  rows: (position: number, call: ScriptCall) => readonly [token: number, prob: number] | undefined,
  vocab = SCRIPTED_INFO.vocabSize,
): RowScript {
  return (position, _token, call) => {
    const row = rows(position, call);
    return row ? peaked(vocab, row[0], row[1]) : peaked(vocab, 0, 0.2);
  };
}
