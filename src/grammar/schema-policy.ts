/**
 * The JSON Schema subset Unmask enforces, checked before anything reaches xgrammar. xgrammar 0.1.27 silently
 * ignores some keywords (not, multipleOf, uniqueItems, …), mis-handles others (bounds on non-integer numbers,
 * length-bounded strings admit raw control characters, most `format`s admit invalid values) and aborts its wasm on
 * some inputs, so only keywords whose output was verified to validate are let through; anything else is a 400
 * naming it. Two rewrites make the rest exact: minLength/maxLength become a pattern over printable ASCII, and the
 * formats date, time, date-time and ipv4 become patterns that admit only valid values. The result is the schema
 * handed to xgrammar; the client's schema is what outputs validate against.
 * The compile-time cost of bounded repetitions of wide character sets is limited per vocabulary (see units).
 */
import { GrammarError } from './errors.ts';
import { checkPattern } from './pattern-check.ts';

const ANNOTATIONS = new Set([
  'title',
  'description',
  '$comment',
  'examples',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
  '$schema',
  '$id',
]);
const FAMILY: Record<string, 'string' | 'number' | 'object' | 'array'> = {
  minLength: 'string',
  maxLength: 'string',
  pattern: 'string',
  format: 'string',
  minimum: 'number',
  maximum: 'number',
  exclusiveMinimum: 'number',
  exclusiveMaximum: 'number',
  properties: 'object',
  required: 'object',
  additionalProperties: 'object',
  items: 'array',
  prefixItems: 'array',
  minItems: 'array',
  maxItems: 'array',
};
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);
const SUPPORTED = [
  'type',
  'enum',
  'const',
  'anyOf',
  '$ref',
  '$defs',
  'definitions',
  ...Object.keys(FAMILY),
];

/** Printable ASCII without `"` and `\`: what a length-bounded string may hold. */
const LENGTH_CLASS = '[ !#-\\[\\]-~]';
const DATE =
  '\\d{4}-((0[13578]|1[02])-(0[1-9]|[12]\\d|3[01])|(0[469]|11)-(0[1-9]|[12]\\d|30)|02-(0[1-9]|1\\d|2[0-8]))';
const TIME = '([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d{1,6})?(Z|[+-]([01]\\d|2[0-3]):[0-5]\\d)';
const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
/** Formats enforced through a pattern that admits valid values only (Feb 29 and leap seconds excluded). */
const FORMAT_PATTERNS: Record<string, string> = {
  date: `^${DATE}$`,
  time: `^${TIME}$`,
  'date-time': `^${DATE}T${TIME}$`,
  ipv4: `^(${OCTET}\\.){3}${OCTET}$`,
};
/** Formats xgrammar enforces exactly by itself. */
const NATIVE_FORMATS = new Set(['uuid']);

export interface PolicyLimits {
  /** Compile-cost units allowed (bounded repetitions of wide character sets). */
  maxUnits: number;
  maxNodes?: number;
  maxDepth?: number;
}

export interface CheckedSchema {
  /** What xgrammar compiles. */
  readonly grammarSchema: Record<string, unknown>;
  readonly units: number;
}

/** Units a model with `vocabSize` tokens may spend: about a second of compile time on LLaDA2's 157k vocabulary. */
export function unitsFor(vocabSize: number): number {
  return Math.floor(1_300_000 / Math.max(1, vocabSize));
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function checkSchema(
  schema: unknown,
  limits: PolicyLimits,
  param = 'response_format.json_schema.schema',
): CheckedSchema {
  const maxNodes = limits.maxNodes ?? 1000;
  const maxDepth = limits.maxDepth ?? 32;
  let nodes = 0;
  let units = 0;
  const unsupported = (path: string, what: string) =>
    new GrammarError(`${path}: ${what}`, param, 'unsupported');
  const invalid = (path: string, what: string) => new GrammarError(`${path}: ${what}`, param);
  if (!isObject(schema)) throw invalid('schema', 'must be a JSON object');
  const defs = { ...(schema.$defs as object), ...(schema.definitions as object) } as Record<
    string,
    unknown
  >;

  function walk(node: unknown, path: string, depth: number): Record<string, unknown> {
    if (node === true) return {};
    if (!isObject(node)) throw unsupported(path, 'a schema must be an object (or true)');
    if (++nodes > maxNodes) throw unsupported(path, `more than ${maxNodes} subschemas`);
    if (depth > maxDepth) throw unsupported(path, `nested deeper than ${maxDepth}`);
    const out: Record<string, unknown> = {};
    const keys = Object.keys(node).filter((k) => !ANNOTATIONS.has(k));
    for (const k of keys)
      if (!SUPPORTED.includes(k))
        throw unsupported(`${path}.${k}`, `the keyword "${k}" is not supported`);
    const has = (k: string) => node[k] !== undefined;
    if ((has('$defs') || has('definitions')) && depth > 0)
      throw unsupported(path, '$defs are supported at the root only');
    const own = keys.filter((k) => k !== '$defs' && k !== 'definitions');
    for (const only of ['anyOf', '$ref'])
      if (has(only) && own.length > 1)
        throw unsupported(path, `${only} must stand alone (next to annotations only)`);
    if (has('$ref')) return { $ref: ref(node.$ref, `${path}.$ref`) };
    if (has('anyOf')) {
      const branches = node.anyOf;
      if (!Array.isArray(branches) || branches.length === 0 || branches.length > 64)
        throw invalid(`${path}.anyOf`, 'must be a list of 1 to 64 schemas');
      return { anyOf: branches.map((b, i) => walk(b, `${path}.anyOf[${i}]`, depth + 1)) };
    }
    const types = typeList(node.type, `${path}.type`);
    if (types) out.type = node.type;
    if (has('enum') || has('const')) {
      const values = has('const') ? [node.const] : node.enum;
      if (!Array.isArray(values) || values.length === 0 || values.length > 256)
        throw invalid(`${path}.enum`, 'must be a list of 1 to 256 values');
      if (own.some((k) => k !== 'type' && k !== 'enum' && k !== 'const'))
        throw unsupported(path, 'enum and const combine with type only');
      for (const v of values) {
        const t = jsonType(v);
        if (types && !types.has(t) && !(t === 'integer' && types.has('number')))
          throw invalid(`${path}.enum`, `${JSON.stringify(v)} is not of the schema's type`);
      }
      if (has('const')) out.const = node.const as Json;
      else out.enum = node.enum as Json[];
      return out;
    }
    const families = new Set(own.filter((k) => FAMILY[k]).map((k) => FAMILY[k]));
    for (const f of families) {
      const ok = types && (types.has(f) || (f === 'number' && types.has('integer')));
      if (!ok) throw unsupported(path, `${f} keywords need "type": "${f}" next to them`);
    }
    if (families.has('string')) stringKeywords(node, out, path);
    if (families.has('number')) numberKeywords(node, out, path, types as Set<string>);
    if (families.has('object')) objectKeywords(node, out, path, depth);
    if (families.has('array')) arrayKeywords(node, out, path, depth);
    return out;
  }

  function typeList(t: unknown, path: string): Set<string> | null {
    if (t === undefined) return null;
    const list = Array.isArray(t) ? t : [t];
    if (list.length === 0 || list.some((x) => typeof x !== 'string' || !TYPES.has(x)))
      throw invalid(path, `must be one of ${[...TYPES].join(', ')}, or a list of them`);
    return new Set(list as string[]);
  }

  function ref(value: unknown, path: string): string {
    if (value === '#') return '#';
    const m = typeof value === 'string' ? /^#\/(\$defs|definitions)\/([^/]+)$/.exec(value) : null;
    const name = m?.[2].replace(/~1/g, '/').replace(/~0/g, '~');
    if (!m || name === undefined || !Object.hasOwn(defs, name))
      throw unsupported(path, `only "#" and "#/$defs/<name>" of this schema are supported`);
    return value as string;
  }

  function count(v: unknown, path: string): number {
    if (!Number.isSafeInteger(v) || (v as number) < 0)
      throw invalid(path, 'must be a non-negative integer');
    return v as number;
  }

  function stringKeywords(
    node: Record<string, unknown>,
    out: Record<string, unknown>,
    path: string,
  ) {
    const min = node.minLength === undefined ? 0 : count(node.minLength, `${path}.minLength`);
    const max = node.maxLength === undefined ? null : count(node.maxLength, `${path}.maxLength`);
    if (max !== null && max < min) throw invalid(`${path}.maxLength`, 'is below minLength');
    const bounded = node.minLength !== undefined || node.maxLength !== undefined;
    const sources = [bounded, node.pattern !== undefined, node.format !== undefined].filter(
      Boolean,
    );
    if (sources.length > 1)
      throw unsupported(path, 'combine at most one of length bounds, pattern and format');
    if (node.format !== undefined) {
      const f = node.format;
      if (typeof f === 'string' && NATIVE_FORMATS.has(f)) out.format = f;
      else if (typeof f === 'string' && Object.hasOwn(FORMAT_PATTERNS, f)) {
        out.pattern = FORMAT_PATTERNS[f];
      } else
        throw unsupported(
          `${path}.format`,
          `supported formats: ${[...NATIVE_FORMATS, ...Object.keys(FORMAT_PATTERNS)].join(', ')}`,
        );
    }
    if (node.pattern !== undefined) {
      if (typeof node.pattern !== 'string') throw invalid(`${path}.pattern`, 'must be a string');
      const checked = checkPattern(node.pattern);
      if (!checked.ok) throw unsupported(`${path}.pattern`, `the pattern ${checked.reason}`);
      units += checked.units;
      out.pattern = node.pattern;
    }
    if (bounded) {
      units += max ?? min;
      out.pattern = `^${LENGTH_CLASS}{${min},${max ?? ''}}$`;
    }
  }

  function numberKeywords(
    node: Record<string, unknown>,
    out: Record<string, unknown>,
    path: string,
    types: Set<string>,
  ) {
    if (types.has('number'))
      throw unsupported(path, 'bounds are enforced on "type": "integer" only');
    const bound = (k: string): number | null => {
      if (node[k] === undefined) return null;
      if (!Number.isSafeInteger(node[k])) throw invalid(`${path}.${k}`, 'must be an integer');
      return node[k] as number;
    };
    const [min, xmin, max, xmax] = [
      'minimum',
      'exclusiveMinimum',
      'maximum',
      'exclusiveMaximum',
    ].map(bound);
    const lo = Math.max(min ?? -Infinity, xmin === null ? -Infinity : xmin + 1);
    const hi = Math.min(max ?? Infinity, xmax === null ? Infinity : xmax - 1);
    if (lo > hi) throw invalid(path, 'no integer satisfies the bounds');
    if (Number.isFinite(lo) && Number.isFinite(hi)) {
      // xgrammar's two-sided integer ranges admit values past the upper bound: spell the range out.
      if (hi - lo >= 1024)
        throw unsupported(path, 'integer ranges with both bounds may span at most 1024 values');
      delete out.type;
      out.enum = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
      if (types.has('null')) out.enum = [...(out.enum as number[]), null];
      return;
    }
    if (Number.isFinite(lo)) out.minimum = lo;
    if (Number.isFinite(hi)) out.maximum = hi;
  }

  function objectKeywords(
    node: Record<string, unknown>,
    out: Record<string, unknown>,
    path: string,
    depth: number,
  ) {
    const props = node.properties ?? {};
    if (!isObject(props)) throw invalid(`${path}.properties`, 'must be an object');
    if (Object.keys(props).length > 256)
      throw unsupported(`${path}.properties`, 'more than 256 properties');
    out.properties = Object.fromEntries(
      Object.entries(props).map(([k, v]) => [k, walk(v, `${path}.properties.${k}`, depth + 1)]),
    );
    if (node.required !== undefined) {
      const req = node.required;
      if (!Array.isArray(req) || req.some((r) => typeof r !== 'string'))
        throw invalid(`${path}.required`, 'must be a list of property names');
      const missing = req.find((r) => !Object.hasOwn(props, r as string));
      if (missing !== undefined)
        throw unsupported(`${path}.required`, `"${missing}" is not one of the properties`);
      out.required = req;
    }
    const extra = node.additionalProperties;
    if (extra !== undefined) {
      if (typeof extra === 'boolean') out.additionalProperties = extra;
      else out.additionalProperties = walk(extra, `${path}.additionalProperties`, depth + 1);
    }
  }

  function arrayKeywords(
    node: Record<string, unknown>,
    out: Record<string, unknown>,
    path: string,
    depth: number,
  ) {
    if (node.prefixItems !== undefined) {
      if (!Array.isArray(node.prefixItems))
        throw invalid(`${path}.prefixItems`, 'must be a list of schemas');
      out.prefixItems = node.prefixItems.map((s, i) =>
        walk(s, `${path}.prefixItems[${i}]`, depth + 1),
      );
    }
    if (node.items !== undefined) {
      if (Array.isArray(node.items))
        throw unsupported(`${path}.items`, 'a list of item schemas: use prefixItems');
      out.items = node.items === false ? false : walk(node.items, `${path}.items`, depth + 1);
    }
    const min = node.minItems === undefined ? 0 : count(node.minItems, `${path}.minItems`);
    const max = node.maxItems === undefined ? null : count(node.maxItems, `${path}.maxItems`);
    if (max !== null && max < min) throw invalid(`${path}.maxItems`, 'is below minItems');
    if (min > 1024 || (max ?? 0) > 1024)
      throw unsupported(path, 'item counts above 1024 are not supported');
    if (node.minItems !== undefined) out.minItems = min;
    if (max !== null) out.maxItems = max;
  }

  const grammarSchema = walk(schema, 'schema', 0);
  const defsOut: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(defs)) defsOut[name] = walk(d, `schema.$defs.${name}`, 1);
  if (schema.$defs !== undefined) grammarSchema.$defs = defsOut;
  if (schema.definitions !== undefined) grammarSchema.definitions = defsOut;
  if (units > limits.maxUnits)
    throw unsupported(
      'schema',
      `its length bounds and bounded patterns cost ${units} units to compile; this model's vocabulary allows ${limits.maxUnits}. Lower or remove maxLength/minLength or {m,n} bounds`,
    );
  return { grammarSchema, units };
}
