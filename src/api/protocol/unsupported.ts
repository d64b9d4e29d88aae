/**
 * Request fields Unmask does not implement: a 400 naming the field beats silently ignoring it. The values clients
 * send by default (empty lists, 'none', zero penalties) are accepted.
 */
import { badRequest } from '../api-error.ts';

export function rejectUnsupported(body: Record<string, unknown>): void {
  const present = (k: string) => body[k] !== undefined && body[k] !== null;
  for (const field of [
    'tools',
    'functions',
    'tool_choice',
    'function_call',
    'logit_bias',
    'audio',
    'prediction',
  ]) {
    if (
      present(field) &&
      !(Array.isArray(body[field]) && (body[field] as unknown[]).length === 0) &&
      body[field] !== 'none'
    ) {
      throw badRequest(`${field} is not supported by this server`, field, 'unsupported_parameter');
    }
  }
  if (body.logprobs === true || (typeof body.logprobs === 'number' && body.logprobs > 0))
    throw badRequest(
      'logprobs is not supported by diffusion decoding',
      'logprobs',
      'unsupported_parameter',
    );
  if (present('top_logprobs'))
    throw badRequest(
      'top_logprobs is not supported by diffusion decoding',
      'top_logprobs',
      'unsupported_parameter',
    );
  const rf = body.response_format as { type?: string } | undefined;
  if (rf && rf.type && rf.type !== 'text')
    throw badRequest(
      `response_format ${rf.type} is not supported`,
      'response_format',
      'unsupported_parameter',
    );
  // Penalties need the tokens generated so far; a diffusion block is decided in parallel. 0 (many clients' default) is fine.
  for (const field of ['presence_penalty', 'frequency_penalty', 'repetition_penalty']) {
    if (
      present(field) &&
      body[field] !== 0 &&
      !(field === 'repetition_penalty' && body[field] === 1)
    ) {
      throw badRequest(
        `${field} is not supported by diffusion decoding (send 0 or omit it)`,
        field,
        'unsupported_parameter',
      );
    }
  }
  if (present('best_of') && body.best_of !== 1)
    throw badRequest('best_of is not supported; use n', 'best_of', 'unsupported_parameter');
  if (present('suffix'))
    throw badRequest('suffix is not supported', 'suffix', 'unsupported_parameter');
  if (body.echo === true)
    throw badRequest('echo is not supported', 'echo', 'unsupported_parameter');
}
