/**
 * Structured output: a request's `response_format` (json_object, json_schema) becomes the decode loop's grammar
 * constraint, compiled after admission (compiling is work) and before the full reservation; a bad schema is a 400 whose
 * admission is cancelled, so it costs the tenant nothing. The grammar engine is
 * injected (ApiOptions.grammar); without one, structured output is refused.
 */
import type { ConstraintSource } from '../../decode/index.ts';
import { GrammarError, type GrammarService } from '../../grammar/index.ts';
import { ApiError, badRequest } from '../errors.ts';
import type { OpenModel } from '../engine.ts';

function wantsGrammar(format: unknown): boolean {
  return (
    format !== undefined &&
    format !== null &&
    !(typeof format === 'object' && (format as { type?: unknown }).type === 'text')
  );
}

export async function grammarFor(
  grammar: GrammarService | undefined,
  responseFormat: unknown,
  model: OpenModel,
): Promise<ConstraintSource | undefined> {
  if (!wantsGrammar(responseFormat)) return undefined;
  if (!grammar)
    throw badRequest(
      'response_format json_object and json_schema are not available on this server',
      'response_format',
      'unsupported_parameter',
    );
  try {
    return (await grammar.constraintFor(responseFormat, model)) ?? undefined;
  } catch (e: unknown) {
    if (!(e instanceof GrammarError)) throw e;
    const code = e.kind === 'unsupported' ? 'unsupported_parameter' : 'invalid_response_format';
    throw new ApiError(400, 'invalid_request_error', e.message, { param: e.param, code });
  }
}
