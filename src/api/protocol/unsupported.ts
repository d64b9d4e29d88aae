/**
 * Request fields Unmask does not implement: a 400 naming the field beats silently ignoring it. The values clients
 * send by default (empty lists and maps, 'none', zero penalties, best_of 1) are accepted as the no-ops they are.
 * docs/api.md lists these fields; keep the two in step.
 */
import { badRequest } from '../api-error.ts';

const isEmpty = (v: unknown) =>
  v === undefined ||
  v === null ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);

const refuse = (field: string, why: string) =>
  badRequest(`${field} is not supported${why}`, field, 'unsupported_parameter');

export function rejectUnsupported(body: Record<string, unknown>): void {
  const present = (k: string) => body[k] !== undefined && body[k] !== null;
  // The deprecated function-calling fields: tools and tool_choice replace them.
  for (const field of ['functions', 'function_call'])
    if (!isEmpty(body[field]) && body[field] !== 'none' && body[field] !== 'auto')
      throw refuse(field, '; use tools and tool_choice');
  if (!isEmpty(body.logit_bias))
    throw refuse('logit_bias', ': a diffusion step decides many positions from one head');
  for (const field of ['audio', 'prediction', 'web_search_options'])
    if (!isEmpty(body[field])) throw refuse(field, ' by this server');
  const modalities = body.modalities;
  if (Array.isArray(modalities) && modalities.some((m) => m !== 'text'))
    throw refuse('modalities', ': this server writes text only');
  // Penalties need the tokens generated so far; a diffusion block is decided in parallel. 0 (many clients' default) is fine.
  for (const field of ['presence_penalty', 'frequency_penalty', 'repetition_penalty']) {
    if (
      present(field) &&
      body[field] !== 0 &&
      !(field === 'repetition_penalty' && body[field] === 1)
    )
      throw refuse(field, ' by diffusion decoding (send 0 or omit it)');
  }
  if (present('best_of') && body.best_of !== 1) throw refuse('best_of', '; use n');
  if (present('suffix') && body.suffix !== '') throw refuse('suffix', ' (no fill-in-the-middle)');
  if (body.echo === true) throw refuse('echo', ' (the prompt is not repeated)');
}
