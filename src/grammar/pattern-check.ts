/**
 * Which regular expressions (a schema's `pattern`) the grammar can enforce so that the output stays valid JSON.
 * xgrammar puts a pattern's characters into the JSON string unescaped, so a pattern must never match `"`, `\` or
 * a control character; its character classes over non-ASCII text also mis-handle UTF-8. The accepted dialect is
 * therefore: printable ASCII literals and positive classes ([a-z0-9_-]) that exclude `"` and `\`, the escapes
 * \d and \w and escaped punctuation, groups ( ) and (?: ), alternation, the quantifiers * + ? {m} {m,} {m,n}, and
 * ^ / $ at the ends. Everything else (., negated classes, \s, lookarounds, back-references) is refused.
 * Returns the compile cost in units, or a reason. Compile time grows with the vocabulary times the number of
 * grammar states that admit many different characters: a bound {m,n} on something wider than a digit costs n
 * units, a bound on digits (or a literal) costs nothing measurable.
 */

const PRINTABLE_LO = 0x20;
const PRINTABLE_HI = 0x7e;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Escaped characters that stand for themselves. */
const ESCAPED_PUNCTUATION = new Set(".-()[]{}*+?|^$/,:;!#%&'<=>@`~_ ".split(''));
/** Characters an atom can match, above which a bounded repetition of it is costly. */
const NARROW = 10;

export type PatternCheck = { ok: true; units: number } | { ok: false; reason: string };

function safeChar(code: number): boolean {
  return code >= PRINTABLE_LO && code <= PRINTABLE_HI && code !== QUOTE && code !== BACKSLASH;
}

export function checkPattern(pattern: string, maxLength = 512): PatternCheck {
  if (pattern.length > maxLength) return { ok: false, reason: `is longer than ${maxLength}` };
  let units = 0;
  let depth = 0;
  let i = 0;
  // Width of the last atom, and of each open group (the widest atom inside it).
  let last = 0;
  const groups: number[] = [];
  const atom = (width: number) => {
    last = width;
    if (groups.length) groups[groups.length - 1] = Math.max(groups[groups.length - 1], width);
  };
  const fail = (what: string): PatternCheck => ({ ok: false, reason: `uses ${what} (at ${i})` });
  while (i < pattern.length) {
    const ch = pattern[i];
    if (ch === '^') {
      if (i !== 0) return fail('^ other than at the start');
      i++;
    } else if (ch === '$') {
      if (i !== pattern.length - 1) return fail('$ other than at the end');
      i++;
    } else if (ch === '\\') {
      const e = pattern[i + 1] ?? '';
      if (e !== 'd' && e !== 'w' && !ESCAPED_PUNCTUATION.has(e)) return fail(`the escape \\${e}`);
      atom(e === 'd' ? 10 : e === 'w' ? 63 : 1);
      i += 2;
    } else if (ch === '[') {
      const end = classEnd(pattern, i);
      if (end < 0) return fail('an unclosed [');
      const width = checkClass(pattern.slice(i + 1, end));
      if (typeof width === 'string') return fail(width);
      atom(width);
      i = end + 1;
    } else if (ch === '(') {
      depth++;
      groups.push(0);
      i += pattern.startsWith('(?:', i) ? 3 : 1;
      if (pattern[i] === '?') return fail('a lookaround or named group');
    } else if (ch === ')') {
      if (--depth < 0) return fail('an unmatched )');
      atom(groups.pop() ?? 0);
      i++;
    } else if (ch === '{') {
      const m = /^\{(\d{1,4})(,(\d{0,4}))?\}/.exec(pattern.slice(i));
      if (!m) return fail('a malformed {m,n}');
      const lo = Number(m[1]);
      const hi = m[3] ? Number(m[3]) : lo;
      if (m[3] && hi < lo) return fail('{m,n} with n < m');
      if (last > NARROW) units += Math.max(lo, hi);
      i += m[0].length;
    } else if (ch === '.') {
      return fail('. (it could match a quote or a control character)');
    } else if ('*+?|'.includes(ch)) {
      i++;
    } else {
      const code = ch.charCodeAt(0);
      if (!safeChar(code)) return fail(`the character ${JSON.stringify(ch)}`);
      atom(1);
      i++;
    }
  }
  if (depth !== 0) return { ok: false, reason: 'has an unclosed (' };
  return { ok: true, units };
}

/** Index of the ] that closes the class opened at `start`, or -1. */
function classEnd(p: string, start: number): number {
  for (let j = start + 1; j < p.length; j++) {
    if (p[j] === '\\') j++;
    else if (p[j] === ']') return j;
  }
  return -1;
}

/** One class member at `j`: a character code, or null for \d / \w. */
function classAtom(body: string, j: number): { code: number | null; next: number } | string {
  if (body[j] === '\\') {
    const e = body[j + 1] ?? '';
    if (e === 'd' || e === 'w') return { code: null, next: j + 2 };
    if (!ESCAPED_PUNCTUATION.has(e)) return `the escape \\${e} in a class`;
    return { code: e.charCodeAt(0), next: j + 2 };
  }
  const code = body.charCodeAt(j);
  if (!safeChar(code)) return `the character ${JSON.stringify(body[j])} in a class`;
  return { code, next: j + 1 };
}

/**
 * A class body (without brackets): positive, made of safe characters, ranges of them, \d and \w. Returns how
 * many characters it may match (an upper bound), or a reason.
 */
function checkClass(body: string): number | string {
  if (body.startsWith('^')) return 'a negated class [^…]';
  if (body.length === 0) return 'an empty class';
  let width = 0;
  let j = 0;
  while (j < body.length) {
    const lo = classAtom(body, j);
    if (typeof lo === 'string') return lo;
    j = lo.next;
    if (body[j] !== '-' || j + 1 >= body.length) {
      width += lo.code === null ? 63 : 1;
      continue;
    }
    const hi = classAtom(body, j + 1);
    if (typeof hi === 'string') return hi;
    if (lo.code === null || hi.code === null) return 'a range with \\d or \\w';
    if (hi.code < lo.code) return 'a reversed range';
    if (lo.code < QUOTE && hi.code >= QUOTE) return 'a range that includes "';
    if (lo.code < BACKSLASH && hi.code >= BACKSLASH) return 'a range that includes \\';
    width += hi.code - lo.code + 1;
    j = hi.next;
  }
  return width;
}
