/** Block-causal attention visibility (docs/decode-algorithm.md §2 item 3), in the `ForwardInput.visibility` layout. */

/**
 * Visibility for `seq` new tokens at absolute positions `start ..` behind `pastLength` cached keys, which are
 * positions `0 .. pastLength-1` (the loop only ever caches a prefix). Query i sees key j iff
 * floor(pos(j) / B) <= floor(pos(i) / B). Row-major [seq × (pastLength + seq)], 1 = visible.
 */
export function blockCausalVisibility(
  pastLength: number,
  start: number,
  seq: number,
  blockLength: number,
): Uint8Array {
  const width = pastLength + seq;
  const vis = new Uint8Array(seq * width);
  for (let i = 0; i < seq; i++) {
    // Every key before the end of the query's block is visible: a prefix of the past and of the new keys.
    const end = (Math.floor((start + i) / blockLength) + 1) * blockLength;
    const row = i * width;
    vis.fill(1, row, row + Math.min(pastLength, end));
    vis.fill(1, row + pastLength, row + pastLength + Math.max(0, Math.min(seq, end - start)));
  }
  return vis;
}
