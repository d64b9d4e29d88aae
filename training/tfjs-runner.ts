/**
 * @module
 * A BlockRunner over the tfjs training model, so training can score held-out prompts with the real decode loop
 * (src/decode generate()) before any export. Reference mode only (no K/V cache): each forward re-encodes the
 * window, as HF's loop does. The head matches the exported graph's: top-k of the logits with fp32 softmax
 * probabilities, ties to the lower id.
 */
import type {
  BlockRunner,
  ForwardInput,
  ForwardOutput,
  KvState,
  RunnerInfo,
} from '../src/decode/runner.ts';
import { headOutput } from '../src/decode/testing/head.ts';
import { forwardLogits, type DemoModelConfig, type Params } from './model.ts';
import type { ExpertBias } from './hf-checkpoint.ts';

/** k of the exported graph's head (export-package.ts default). */
export const GRAPH_TOPK = 64;

export interface TfjsRunnerOptions {
  config: DemoModelConfig;
  params: Params;
  maskId: number;
  eosId: number;
  blockLength: number;
  maxPositions: number;
  /** The MoE layers' expert bias (read at every forward, so a training run's updates show). */
  bias: ExpertBias;
}

export class TfjsRunner implements BlockRunner {
  readonly info: RunnerInfo;
  private readonly config: DemoModelConfig;
  private readonly params: Params;
  private readonly bias: ExpertBias;

  constructor({
    config,
    params,
    maskId,
    eosId,
    blockLength,
    maxPositions,
    bias,
  }: TfjsRunnerOptions) {
    this.config = config;
    this.params = params;
    this.bias = bias;
    this.info = {
      vocabSize: config.vocab,
      topK: Math.min(GRAPH_TOPK, config.vocab),
      maskId,
      eosId,
      maxPositions,
      blockLength,
    };
  }

  async forward(input: ForwardInput): Promise<ForwardOutput> {
    if (input.past !== null || input.wantPresent)
      throw new Error('TfjsRunner has no K/V cache: decode with mode "reference"');
    const logits = await forwardLogits(
      this.config,
      this.params,
      {
        batch: input.batch,
        seq: input.seq,
        ids: input.ids,
        positions: input.positions,
        visibility: input.visibility,
      },
      { bias: this.bias },
    );
    return headOutput(
      Float64Array.from(logits),
      input.batch * input.seq,
      this.config.vocab,
      this.info.topK,
      input.wantLogits,
    );
  }

  truncate(_state: KvState, _length: number): KvState {
    throw new Error('TfjsRunner has no K/V cache');
  }
}
