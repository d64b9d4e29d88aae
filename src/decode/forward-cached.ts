/**
 * The `cached` mode (docs/decode-algorithm.md §6): exact prefix K/V cache, same tokens as `reference`.
 * - Prefill: the complete prompt blocks [0, floor(P/B)·B), block-causal, once. The prompt tail belongs to the
 *   first decode block and is re-fed at each of its steps.
 * - Step: only the active block, which sees all cached K/V and itself.
 * - A finished block's K/V must come from its final tokens. That commit forward is fused with the next block's
 *   first step: [block b−1 final | block b current] (2B tokens, 2-block causal), keep b−1's K/V, use b's rows.
 * So NFE = reference NFE + 1 (the prefill, when there is a complete prompt block).
 * - With a prefix cache, the prefill starts after the longest cached block-aligned prefix of the prompt (no forward
 *   at all when it covers every complete prompt block), and its result is cached for later requests.
 */
import { checkOutput, iota, type Forwarder, type ForwarderDeps } from './forwarder.ts';
import type { ForwardOutput, KvState } from './runner.ts';
import { blockCausalVisibility } from './visibility.ts';

export function cachedForwarder({
  runner,
  canvas,
  layout,
  wantLogits,
  stats,
  prefixCache,
}: ForwarderDeps): Forwarder {
  const B = layout.blockLength;
  let past: KvState | null = null;
  let pastLength = 0;
  let visKey = '';
  let vis: Uint8Array = new Uint8Array(0);

  async function run(
    start: number,
    seq: number,
    keep: boolean,
    logits: boolean,
    prefill = false,
  ): Promise<ForwardOutput> {
    const key = `${pastLength}:${start}:${seq}`;
    if (key !== visKey) [visKey, vis] = [key, blockCausalVisibility(pastLength, start, seq, B)];
    const out = await stats.forward(
      () =>
        runner.forward({
          batch: 1,
          seq,
          ids: canvas.slice(start, start + seq),
          positions: iota(start, seq),
          visibility: vis,
          past,
          wantLogits: logits,
          wantPresent: keep,
        }),
      prefill,
    );
    checkOutput(out, seq, runner.info.vocabSize, logits);
    if (keep && !out.present)
      throw new Error('runner returned no present K/V though it was asked for');
    return out;
  }

  function replacePast(next: KvState, length: number): void {
    if (past) runner.release?.(past);
    past = next;
    pastLength = length;
  }

  return {
    needsPrefill: layout.firstBlock > 0,
    async prefill() {
      const n = layout.firstBlock * B;
      if (n === 0) return;
      const hit = prefixCache?.lookup(runner, canvas, n, B);
      if (hit) {
        replacePast(hit.state, hit.length);
        stats.cachedPromptTokens = hit.length;
      }
      if (pastLength < n) {
        const out = await run(pastLength, n - pastLength, true, false, true);
        replacePast(out.present as KvState, n);
        prefixCache?.store(runner, canvas, past as KvState, B);
      }
    },
    async step(block) {
      const start = block * B;
      if (pastLength === start) return { out: await run(start, B, false, wantLogits), row: 0 };
      if (pastLength !== start - B)
        throw new Error(`cache holds ${pastLength} positions at block ${block}`);
      const out = await run(start - B, 2 * B, true, wantLogits);
      const present = out.present as KvState;
      // Keep only the finished block's K/V: the active block's rows were computed over masks.
      replacePast(runner.truncate(present, start), start);
      runner.release?.(present);
      return { out, row: B };
    },
    dispose() {
      if (past) runner.release?.(past);
      past = null;
    },
  };
}
