/**
 * The model's tool calls out of its text: `<tool_call>{"name": …, "arguments": …}</tool_call>` (the Ling-2.0 /
 * LLaDA2 format, shared by the Hermes/Qwen family). A streaming splitter turns text deltas into content and
 * complete calls; a call whose JSON is malformed, or names a function that was not offered, stays plain content —
 * the model's text is never lost and never an error.
 */

export const CALL_OPEN = '<tool_call>';
export const CALL_CLOSE = '</tool_call>';

export interface ParsedToolCall {
  id: string;
  name: string;
  /** The arguments' JSON text as the model wrote it. */
  arguments: string;
}

export type ToolStreamEvent =
  { type: 'content'; text: string } | { type: 'tool_call'; call: ParsedToolCall };

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `call_` + 24 random letters and digits, as OpenAI's ids look. */
export function toolCallId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `call_${Array.from(bytes, (b) => ALPHANUMERIC[b % ALPHANUMERIC.length]).join('')}`;
}

/** One call's JSON (the text between the tags) → the call, or null when it is not a valid call of `names`. */
export function parseCall(inner: string, names: ReadonlySet<string>): ParsedToolCall | null {
  let value: unknown;
  try {
    value = JSON.parse(inner);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { name } = value as { name?: unknown };
  if (typeof name !== 'string' || !names.has(name)) return null;
  const key = 'arguments' in value ? 'arguments' : 'parameters' in value ? 'parameters' : null;
  const args = key === null ? {} : (value as Record<string, unknown>)[key];
  let text: string;
  if (typeof args === 'string') {
    // Some models write the arguments as a JSON string, as the OpenAI wire does.
    try {
      JSON.parse(args);
    } catch {
      return null;
    }
    text = args;
  } else if (typeof args === 'object' && args !== null && !Array.isArray(args)) {
    text = (key && rawMember(inner, key)) ?? JSON.stringify(args);
  } else return null;
  return { id: toolCallId(), name, arguments: text };
}

/**
 * The text of a top-level member's value in a JSON object text, as written (JSON.parse would lose its spacing,
 * which a client echoes back into the next prompt). Null when it cannot be located.
 */
export function rawMember(json: string, key: string): string | null {
  const at = json.indexOf(JSON.stringify(key));
  if (at < 0) return null;
  let i = at + JSON.stringify(key).length;
  while (/\s/.test(json[i] ?? '')) i++;
  if (json[i] !== ':') return null;
  i++;
  while (/\s/.test(json[i] ?? '')) i++;
  const start = i;
  let depth = 0;
  let inString = false;
  for (; i < json.length; i++) {
    const ch = json[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') {
      depth--;
      if (depth === 0) return json.slice(start, i + 1);
      if (depth < 0) return null;
    }
  }
  return null;
}

export interface ToolCallStreamOptions {
  /** Functions the model may call. */
  names: ReadonlySet<string>;
  /** false: calls after the first are dropped. */
  parallel: boolean;
}

/**
 * Splits streamed text into content and tool calls. Text that could still become a call opening is held back;
 * so is whitespace, which is dropped when it only separates calls. A call is released once its closing tag
 * arrives (or at the end, if its JSON is already complete).
 */
export class ToolCallStream {
  private pending = '';
  private inCall = false;
  private calls = 0;
  /** Whitespace between the text and the open call. */
  private gap = '';

  constructor(private readonly o: ToolCallStreamOptions) {}

  /** Calls found so far. */
  get callCount(): number {
    return this.calls;
  }

  /** With parallel calls off, the first call ends the answer: the caller may stop decoding. */
  get done(): boolean {
    return !this.o.parallel && this.calls > 0;
  }

  push(text: string): ToolStreamEvent[] {
    this.pending += text;
    const out: ToolStreamEvent[] = [];
    for (;;) {
      if (this.inCall) {
        const end = this.pending.indexOf(CALL_CLOSE);
        if (end < 0) return out;
        this.closeCall(this.pending.slice(0, end), CALL_CLOSE, out);
        this.pending = this.pending.slice(end + CALL_CLOSE.length);
        continue;
      }
      const start = this.pending.indexOf(CALL_OPEN);
      if (start >= 0) {
        // Whitespace right before a call only separates it (kept aside in case the call is not one).
        const before = this.pending.slice(0, start);
        const text = before.replace(/\s+$/, '');
        this.content(text, out);
        this.gap = before.slice(text.length);
        this.pending = this.pending.slice(start + CALL_OPEN.length);
        this.inCall = true;
        continue;
      }
      // Hold back what could still open a call, and trailing whitespace (it may only precede one).
      const keep = heldBack(this.pending);
      const ready = this.pending.slice(0, this.pending.length - keep);
      const trimmed = ready.replace(/\s+$/, '');
      this.content(trimmed, out);
      this.pending = this.pending.slice(trimmed.length);
      return out;
    }
  }

  /** The end of the text: whatever is held back, and an unterminated call (a call if its JSON is whole). */
  finish(): ToolStreamEvent[] {
    const out: ToolStreamEvent[] = [];
    if (this.inCall) this.closeCall(this.pending, '', out);
    else if (this.calls === 0 || this.pending.trim() !== '') this.content(this.pending, out);
    this.pending = '';
    this.inCall = false;
    return out;
  }

  private closeCall(inner: string, closing: string, out: ToolStreamEvent[]): void {
    this.inCall = false;
    if (this.done) return; // parallel calls off: later calls are dropped
    const call = parseCall(inner.trim(), this.o.names);
    if (call) {
      this.calls++;
      out.push({ type: 'tool_call', call });
    } else this.content(this.gap + CALL_OPEN + inner + closing, out);
    this.gap = '';
  }

  private content(text: string, out: ToolStreamEvent[]): void {
    if (text !== '' && !this.done) out.push({ type: 'content', text });
  }
}

/** How many trailing characters could still be the start of CALL_OPEN, plus the whitespace before them. */
function heldBack(text: string): number {
  let keep = 0;
  for (let n = Math.min(CALL_OPEN.length - 1, text.length); n > 0; n--)
    if (CALL_OPEN.startsWith(text.slice(text.length - n))) {
      keep = n;
      break;
    }
  return keep;
}
