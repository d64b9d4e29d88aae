/**
 * Seeded PRNG for sampling: xoshiro128** seeded through splitmix32. Pure 32-bit integer maths (Math.imul,
 * >>>), so one seed gives the same stream in every JS runtime.
 */

const TWO_POW_32 = 4294967296;

function splitmix32(state: number): [next: number, out: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return [next, (z ^ (z >>> 15)) >>> 0];
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Xoshiro128 {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** Any safe integer; its low and high 32-bit halves are both mixed in (seed mod 2^64 in effect). */
  constructor(seed: number) {
    let st = (seed >>> 0) ^ Math.imul(Math.floor(seed / TWO_POW_32) >>> 0, 0x85ebca6b);
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, v] = splitmix32(st);
      st = next;
      out.push(v);
    }
    [this.s0, this.s1, this.s2, this.s3] = out;
    // xoshiro's one forbidden state; splitmix32 practically never yields it.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator at a raw state (for pinning the algorithm against published xoshiro128** vectors). */
  static fromState(state: readonly [number, number, number, number]): Xoshiro128 {
    const r = new Xoshiro128(0);
    [r.s0, r.s1, r.s2, r.s3] = state.map((v) => v | 0);
    return r;
  }

  /** The next uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform in [0, 1): one uint32 / 2^32. */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }
}
