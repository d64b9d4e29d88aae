/** Public API of the grammar wrapper (structured output over an injected xgrammar). */
export { GrammarError } from './errors.ts';
export { GrammarService, type GrammarModel, type GrammarServiceOptions } from './service.ts';
export { parseResponseFormat, type GrammarRequest } from './response-format.ts';
export { checkSchema, unitsFor } from './schema-policy.ts';
export { ErrorLines, type XGrammarRuntime } from './runtime.ts';
