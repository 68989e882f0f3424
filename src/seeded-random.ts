/**
 * mulberry32: a 32-bit seeded PRNG, uniform in [0, 1). The devnet's injected
 * failures, the simulation's traces and the synthetic models draw from it, so
 * each repeats with its seed.
 */
export function seededRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}
