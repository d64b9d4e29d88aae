/**
 * The `reference` mode: no cache, exactly like HF generate(). Every step re-encodes the window [0, W) with the
 * block-causal mask, W = (b + 1) · B, so the active block is the window's last B rows.
 */
import { checkOutput, iota, type Forwarder, type ForwarderDeps } from './forwarder.ts';
import { blockCausalVisibility } from './visibility.ts';

export function referenceForwarder({
  runner,
  canvas,
  layout,
  wantLogits,
  stats,
}: ForwarderDeps): Forwarder {
  const B = layout.blockLength;
  // Positions and visibility depend only on the window, so they are built once per block.
  let window: { block: number; positions: Int32Array; visibility: Uint8Array } | null = null;
  return {
    needsPrefill: false,
    async prefill() {},
    async step(block) {
      const W = (block + 1) * B;
      if (window?.block !== block)
        window = { block, positions: iota(0, W), visibility: blockCausalVisibility(0, 0, W, B) };
      const { positions, visibility } = window;
      const out = await stats.forward(() =>
        runner.forward({
          batch: 1,
          seq: W,
          ids: canvas.slice(0, W),
          positions,
          visibility,
          past: null,
          wantLogits,
          wantPresent: false,
        }),
      );
      checkOutput(out, W, runner.info.vocabSize, wantLogits);
      return { out, row: W - B };
    },
    dispose() {},
  };
}
