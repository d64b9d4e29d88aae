/** The typed error the decode loop throws for a bad request, always before any forward runs. */

/** A decode option (or the prompt) is invalid. `param` names the option, as spelled in `DecodeOptions`. */
export class DecodeOptionsError extends Error {
  override readonly name = 'DecodeOptionsError';
  readonly param: string;

  constructor(param: string, message: string) {
    super(`${param}: ${message}`);
    this.param = param;
  }
}
