/** Why a response_format cannot be served; the API turns it into a 400 naming `param`. */
export class GrammarError extends Error {
  override name = 'GrammarError';
  constructor(
    message: string,
    /** The request field at fault, e.g. 'response_format' or 'response_format.json_schema.schema'. */
    readonly param = 'response_format',
    /** 'invalid': the value is wrong; 'unsupported': valid, but this server cannot enforce it. */
    readonly kind: 'invalid' | 'unsupported' = 'invalid',
  ) {
    super(message);
  }
}
