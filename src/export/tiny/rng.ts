/**
 * @module
 * A seeded PRNG for the tiny model. Only integer ops, + and × are used, so the same seed gives the same
 * bits on every platform and Node version (Math.log/cos would tie the output to the engine's libm).
 */

/** FNV-1a over `${seed}/${name}`: each tensor gets its own stream, independent of tensor order and shapes. */
export function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}/${name}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const SQRT3 = 1.7320508075688772;

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** mulberry32: uniform in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Approximately standard normal: the centred sum of four uniforms (Irwin–Hall), scaled to variance 1; |x| < 3.47. */
  normal(): number {
    return (this.uniform() + this.uniform() + this.uniform() + this.uniform() - 2) * SQRT3;
  }
}
