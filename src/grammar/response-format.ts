/** The OpenAI `response_format` request field, checked: text (no grammar), json_object, or json_schema. */
import { GrammarError } from './errors.ts';

export type GrammarRequest =
  | { readonly kind: 'json_object' }
  | {
      readonly kind: 'json_schema';
      readonly name: string;
      readonly schema: Record<string, unknown>;
      /** OpenAI's `strict`: no properties or items beyond the schema's (xgrammar's strict mode). */
      readonly strict: boolean;
    };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Null for no grammar (absent, null or `{"type": "text"}`); throws GrammarError for a malformed value. */
export function parseResponseFormat(value: unknown): GrammarRequest | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new GrammarError('response_format must be an object');
  switch (value.type) {
    case 'text':
      return null;
    case 'json_object':
      return { kind: 'json_object' };
    case 'json_schema': {
      const js = value.json_schema;
      const param = 'response_format.json_schema';
      if (!isObject(js)) throw new GrammarError(`${param} must be an object`, param);
      if (typeof js.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(js.name))
        throw new GrammarError(
          `${param}.name must be 1 to 64 letters, digits, underscores or dashes`,
          `${param}.name`,
        );
      const schema = js.schema ?? {};
      if (!isObject(schema))
        throw new GrammarError(`${param}.schema must be a JSON Schema object`, `${param}.schema`);
      if (js.strict !== undefined && js.strict !== null && typeof js.strict !== 'boolean')
        throw new GrammarError(`${param}.strict must be a boolean`, `${param}.strict`);
      return { kind: 'json_schema', name: js.name, schema, strict: js.strict === true };
    }
    default:
      throw new GrammarError(
        `response_format.type must be "text", "json_object" or "json_schema", got ${JSON.stringify(value.type)}`,
        'response_format.type',
      );
  }
}

/** JSON with object keys sorted, so equal schemas give equal cache keys. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}
