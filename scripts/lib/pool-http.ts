/** Client-side readers of a GPU server's HTTP API, shared by bench:gpu and the GPU server tests. */
import type { PoolEvent } from '../../backends/gpu/protocol.ts';

/** PoolEvents of an SSE body, as they arrive. */
export async function* poolEvents(res: Response): AsyncGenerator<PoolEvent> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (frame.startsWith('data: ')) yield JSON.parse(frame.slice(6)) as PoolEvent;
    }
  }
}

/** Sample values of /metrics by series text (name plus labels, e.g. `vllm:num_requests_running{model_name="m"}`). */
export async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
