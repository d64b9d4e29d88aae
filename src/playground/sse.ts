/** A text/event-stream reader: yields each event's data (its data lines joined); comments and event names are skipped. */

/** Splits a growing SSE text buffer into complete events' data and the unfinished rest. */
export function takeEvents(buffer: string): { data: string[]; rest: string } {
  const normalized = buffer.replace(/\r\n?/g, '\n');
  const blocks = normalized.split('\n\n');
  const rest = blocks.pop() ?? '';
  const data: string[] = [];
  for (const block of blocks) {
    const lines = block
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(l.startsWith('data: ') ? 6 : 5));
    if (lines.length) data.push(lines.join('\n'));
  }
  return { data, rest };
}

export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const { data, rest } = takeEvents(buffer + decoder.decode(value, { stream: true }));
      buffer = rest;
      yield* data;
    }
    const { data } = takeEvents(`${buffer}${decoder.decode()}\n\n`);
    yield* data;
  } finally {
    reader.releaseLock();
  }
}
