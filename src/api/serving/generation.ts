/**
 * Runs one choice through a model: decode events → output events (content deltas, stop-aware; tool calls when
 * tools are offered; token log-probabilities when asked) and optional denoising frames.
 */
import type { DecodeOptions, StepEvent, TokenLogprob } from '../../decode/index.ts';
import type { OpenModel } from '../engine.ts';
import { ClientGoneError } from '../api-error.ts';
import { TextStream } from './text-stream.ts';
import {
  CALL_CLOSE,
  CALL_OPEN,
  ToolCallStream,
  type ParsedToolCall,
  type ToolStreamEvent,
} from './tool-calls.ts';

/** One denoising step as clients see it (indices count from the first generated token). */
export interface DenoiseFrame {
  block: number;
  step: number;
  /** Positions committed by this step, with the probability that decided each (the commit confidence). */
  committed: { index: number; token: number; text: string; confidence: number }[];
  /** Positions of the active block still masked after this step. */
  masked: number[];
}

/** One output token's log-probability (and alternatives) at its commit step. */
export interface TokenLogprobEntry extends TokenLogprob {
  token: number;
}

/** What a choice produces, in order. */
export type ChoiceEvent =
  | { type: 'content'; text: string; logprobs?: TokenLogprobEntry[] }
  | { type: 'tool_call'; call: ParsedToolCall; logprobs?: TokenLogprobEntry[] };

/** Tools offered to the model: its `<tool_call>` output becomes calls. */
export interface ChoiceTools {
  names: ReadonlySet<string>;
  parallel: boolean;
  /** Text written into the prompt that the answer continues (a forced call's opening). */
  opening: string | null;
}

export interface ChoiceRequest {
  model: OpenModel;
  promptIds: number[];
  options: DecodeOptions;
  stops: string[];
  tools?: ChoiceTools | null;
  /** Report token log-probabilities (options.logprobs must be set). */
  logprobs?: boolean;
  onEvent?: (event: ChoiceEvent) => Promise<void> | void;
  onDenoise?: (frame: DenoiseFrame) => Promise<void> | void;
  /** Kept up to date as blocks commit, so a choice that ends early (aborted, failed) is still charged. */
  progress?: ChoiceProgress;
  /** The tenant whose turns at an in-process model this choice shares (engine.ts DecodeContext). */
  share?: string;
}

export interface ChoiceProgress {
  /** Tokens committed so far (up to a stop sequence, within max_tokens). */
  completionTokens: number;
}

export interface ChoiceResult {
  /** The content (text outside tool calls); null when the answer is only tool calls. */
  text: string | null;
  toolCalls: ParsedToolCall[];
  /** With `logprobs`: one entry per completion token. */
  logprobs: TokenLogprobEntry[] | null;
  completionTokens: number;
  finishReason: 'stop' | 'length' | 'tool_calls';
  forwards: number;
  tokensPerForward: number;
  seed: number;
  /** Prompt positions served from the prefix cache (reported with the first step). */
  cachedPromptTokens: number;
}

export { ClientGoneError };

export async function runChoice(req: ChoiceRequest): Promise<ChoiceResult> {
  const { model, options } = req;
  // With tools, the call tags stay in the text even if the tokenizer marks them special.
  const text = req.tools
    ? new TextStream(model.codec, req.stops, (ids) =>
        model.codec.decodeKeeping(ids, [CALL_OPEN, CALL_CLOSE]),
      )
    : new TextStream(model.codec, req.stops);
  const output = new ChoiceOutput(req);
  const maxTokens = options.maxTokens ?? Infinity;
  let emittedTokens = 0;
  let finish: 'stop' | 'length' = 'length';
  let forwards = 0;
  let tpf = 0;
  let seed = options.seed ?? 0;
  let cachedPromptTokens = 0;
  // Positions committed in the block being denoised: computed, not yet released as a block.
  let pending = 0;
  const report = () => {
    if (req.progress)
      req.progress.completionTokens = Math.min(maxTokens, text.completionTokens() + pending);
  };
  for await (const event of model.decode(req.promptIds, options, { share: req.share })) {
    if (event.type === 'step') {
      if (event.cachedPromptTokens !== undefined) cachedPromptTokens = event.cachedPromptTokens;
      pending += event.committed.length;
      report();
      if (req.onDenoise) await req.onDenoise(denoiseFrame(model, event));
    }
    if (event.type === 'block') {
      // eos_early_stop may run past max_tokens inside the last block (HF quirk): the API clips it.
      const tokens = event.tokens.slice(0, Math.max(0, maxTokens - emittedTokens));
      emittedTokens += tokens.length;
      pending = 0;
      const { delta, stopped } = text.push(tokens);
      const counted = text.completionTokens();
      report();
      output.addLogprobs(tokens, event.logprobs, counted);
      await output.text(delta);
      // Leaving the loop ends the generator: no further forward runs.
      if (stopped || output.done) {
        finish = 'stop';
        break;
      }
    }
    if (event.type === 'done') {
      if (event.result.finishReason === 'aborted') throw new ClientGoneError('generation aborted');
      finish = event.result.finishReason === 'stop' ? 'stop' : 'length';
      forwards = event.result.stats.forwards;
      tpf = event.result.stats.tokensPerForward;
      seed = event.result.seed;
      cachedPromptTokens = event.result.stats.cachedPromptTokens ?? cachedPromptTokens;
    }
  }
  await output.text(text.finish());
  await output.finish();
  return {
    text: output.content,
    toolCalls: output.calls,
    logprobs: req.logprobs ? output.allLogprobs : null,
    completionTokens: text.completionTokens(),
    finishReason: output.calls.length > 0 ? 'tool_calls' : finish,
    forwards,
    tokensPerForward: tpf,
    seed,
    cachedPromptTokens,
  };
}

/** Routes released text through the tool-call splitter (when tools are offered) and attaches log-probabilities. */
class ChoiceOutput {
  private readonly tools: ToolCallStream | null;
  private readonly pendingLogprobs: TokenLogprobEntry[] = [];
  readonly allLogprobs: TokenLogprobEntry[] = [];
  readonly calls: ParsedToolCall[] = [];
  private contentText = '';

  constructor(private readonly req: ChoiceRequest) {
    const t = req.tools;
    this.tools = t ? new ToolCallStream({ names: t.names, parallel: t.parallel }) : null;
    if (t?.opening) this.tools!.push(t.opening);
  }

  get done(): boolean {
    return this.tools?.done ?? false;
  }

  /** The content, or null when the answer is only tool calls. */
  get content(): string | null {
    return this.contentText === '' && this.calls.length > 0 ? null : this.contentText;
  }

  /** Entries for the block's tokens, up to the completion's token count (a stop sequence ends it). */
  addLogprobs(tokens: number[], logprobs: TokenLogprob[] | undefined, counted: number): void {
    if (!this.req.logprobs || !logprobs) return;
    for (let i = 0; i < tokens.length && this.allLogprobs.length < counted; i++) {
      const entry = { token: tokens[i], ...logprobs[i] };
      this.allLogprobs.push(entry);
      this.pendingLogprobs.push(entry);
    }
  }

  async text(delta: string): Promise<void> {
    if (delta === '') return;
    if (!this.tools) return this.emit([{ type: 'content', text: delta }]);
    return this.emit(this.tools.push(delta));
  }

  /** Flushes the tool splitter and any log-probabilities not yet sent. */
  async finish(): Promise<void> {
    if (this.tools) await this.emit(this.tools.finish());
    if (this.pendingLogprobs.length > 0) await this.emit([{ type: 'content', text: '' }]);
  }

  private async emit(events: ToolStreamEvent[]): Promise<void> {
    for (const ev of events) {
      const logprobs = this.pendingLogprobs.splice(0);
      const withLogprobs = logprobs.length > 0 ? { logprobs } : {};
      if (ev.type === 'content') this.contentText += ev.text;
      else this.calls.push(ev.call);
      await this.req.onEvent?.(
        ev.type === 'content'
          ? { type: 'content', text: ev.text, ...withLogprobs }
          : { type: 'tool_call', call: ev.call, ...withLogprobs },
      );
    }
  }
}

function denoiseFrame(model: OpenModel, e: StepEvent): DenoiseFrame {
  return {
    block: e.block,
    step: e.step,
    committed: e.committed.map((c) => ({
      index: c.index,
      token: c.token,
      text: model.codec.decode([c.token], { skipSpecialTokens: false }),
      confidence: c.confidence,
    })),
    masked: e.masked,
  };
}
