/**
 * Server-sent events from a fetch body: frames split on blank lines (\n, \r\n or \r line ends, chunk
 * boundaries anywhere, UTF-8 split across chunks), comments (": keep-alive") skipped but counted as activity,
 * multi-line data joined with "\n". Every read races an idle timeout, so a silent upstream cannot hang a stream.
 */

export interface SseFrame {
  /** The `event:` field; undefined for the default "message". */
  event?: string;
  data: string;
}

/** Incremental parser: push text, take complete frames. */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event: string | undefined;
  /** A trailing \r may be half of a \r\n split across chunks. */
  private pendingCr = false;

  push(text: string): SseFrame[] {
    let input = text;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (input.startsWith('\n')) input = input.slice(1);
    }
    this.buffer += input;
    const frames: SseFrame[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A lone \r at the very end may be the first half of \r\n: consume it, and skip a leading \n next time.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) this.pendingCr = true;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const frame = this.line(line);
      if (frame) frames.push(frame);
    }
    return frames;
  }

  /** The stream ended: a frame without its blank line is dropped (per the SSE spec). */
  end(): void {
    this.buffer = '';
    this.data = [];
    this.event = undefined;
  }

  private line(line: string): SseFrame | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = undefined;
        return null;
      }
      const frame: SseFrame = {
        data: this.data.join('\n'),
        ...(this.event !== undefined ? { event: this.event } : {}),
      };
      this.data = [];
      this.event = undefined;
      return frame;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    return null;
  }
}

/** The body went silent for longer than the idle timeout. */
export class IdleTimeoutError extends Error {
  override name = 'IdleTimeoutError';
}

export interface ReadSseOptions {
  /** Longest silence (no bytes at all, comments included) before IdleTimeoutError. Default: none. */
  idleTimeoutMs?: number;
}

/**
 * Frames of an SSE body. Ending the iteration early (break/return) cancels the body, which closes the upstream
 * connection.
 * @example for await (const frame of readSse(res.body, { idleTimeoutMs: 30_000 })) handle(JSON.parse(frame.data));
 */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  { idleTimeoutMs }: ReadSseOptions = {},
): AsyncGenerator<SseFrame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await readWithTimeout(reader, idleTimeoutMs);
      if (done) {
        finished = true;
        parser.push(decoder.decode());
        parser.end();
        return;
      }
      for (const frame of parser.push(decoder.decode(value, { stream: true }))) yield frame;
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    try {
      reader.releaseLock();
    } catch {
      /* a read still pending after cancel: the lock dies with the reader */
    }
  }
}

async function readWithTimeout(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  ms: number | undefined,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  if (ms === undefined) return reader.read();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new IdleTimeoutError(`no data for ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([reader.read(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
