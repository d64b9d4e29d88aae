/** The typed error the decode loop throws for a bad request, always before any forward runs. */
import type { DecodeOptions } from './options.ts';

/** An option of DecodeOptions, or 'promptIds' for the prompt itself. */
export type DecodeOptionName = Exclude<keyof DecodeOptions, 'signal' | 'prefixCache'> | 'promptIds';

/**
 * 'context_length': the prompt, or the prompt and the completion, do not fit the model's positions (OpenAI's
 * `context_length_exceeded`). 'invalid': anything else.
 */
export type DecodeOptionsErrorReason = 'invalid' | 'context_length';

/**
 * A decode option (or the prompt) is invalid. `option` names it as spelled in DecodeOptions; `problem` says what
 * is wrong without naming it (so an API can name the field its own way); `param` is the full path
 * (e.g. `algorithmParams.low_threshold`).
 */
export class DecodeOptionsError extends Error {
  override readonly name = 'DecodeOptionsError';
  readonly param: string;

  constructor(
    readonly option: DecodeOptionName,
    readonly problem: string,
    { reason = 'invalid', knob }: { reason?: DecodeOptionsErrorReason; knob?: string } = {},
  ) {
    const param = knob === undefined ? option : `${option}.${knob}`;
    super(`${param}: ${problem}`);
    this.param = param;
    this.reason = reason;
    this.knob = knob;
  }

  readonly reason: DecodeOptionsErrorReason;
  /** For `algorithmParams`: the algorithm's parameter at fault. */
  readonly knob: string | undefined;
}
