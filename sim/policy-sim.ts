import type { EvictionPolicy } from '../src/blob/cache/policy.js'
import { seededRandom } from '../src/seeded-random.js'
import { ZipfSampler } from './zipf.js'

/**
 * Seeded Zipf request traces and a replay loop for eviction policies: for the
 * simulation (scale, replay), the cache-policy benchmark and the policy tests.
 * No I/O.
 */

export interface TraceInit {
  objects: number
  requests: number
  /** Zipf exponent s: rank r is asked for with probability ∝ 1 / r^s. */
  zipf: number
  /** Sizes are log-uniform in [minSize, maxSize]. */
  minSize: number
  maxSize: number
  seed: number
  /** From this request on, popularity ranks are dealt out again (sizes stay). */
  reshuffleAt?: number
  /**
   * Every this many requests, the `versionsReplaced` most popular models get
   * a new version: a new blob of the same size takes the rank, and the old
   * one is never asked for again.
   */
  versionEvery?: number
  /** Default 10. */
  versionsReplaced?: number
  /** This share of the requests (0–1) is for blobs asked for once and never again, sized like the rest. */
  oneTimeShare?: number
}

export interface Trace {
  ids: string[]
  sizes: number[]
  /** Object index of each request. */
  requests: Uint32Array
  /** The bytes of the initial catalog (new versions and one-time blobs come on top): cache sizes are shares of it. */
  catalogBytes: number
}

function shuffled (n: number, random: () => number): number[] {
  const out = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = out[i] as number
    out[i] = out[j] as number
    out[j] = t
  }
  return out
}

export function zipfTrace (init: TraceInit): Trace {
  const random = seededRandom(init.seed)
  const ids = Array.from({ length: init.objects }, (_, i) => `blob-${i}`)
  const logMin = Math.log(init.minSize)
  const logMax = Math.log(init.maxSize)
  const drawSize = (): number => Math.round(Math.exp(logMin + random() * (logMax - logMin)))
  const sizes = ids.map(() => drawSize())
  const catalogBytes = sizes.reduce((a, b) => a + b, 0)
  const zipf = new ZipfSampler(init.objects, init.zipf)
  // Rank and size are independent: popular blobs are not the small ones by construction.
  let objectOfRank = shuffled(init.objects, random)
  const requests = new Uint32Array(init.requests)
  const newObject = (size: number, name: string): number => {
    ids.push(name)
    sizes.push(size)
    return ids.length - 1
  }
  for (let i = 0; i < init.requests; i++) {
    if (i === init.reshuffleAt) objectOfRank = shuffled(init.objects, random)
    if (init.versionEvery != null && i > 0 && i % init.versionEvery === 0) {
      for (let r = 0; r < Math.min(init.objects, init.versionsReplaced ?? 10); r++) {
        const old = objectOfRank[r] as number
        objectOfRank[r] = newObject(sizes[old] as number, `${ids[old] as string}-v${i}`)
      }
    }
    if (init.oneTimeShare != null && random() < init.oneTimeShare) {
      requests[i] = newObject(drawSize(), `once-${i}`)
      continue
    }
    requests[i] = objectOfRank[zipf.rank(random())] as number
  }
  return { ids, sizes, requests, catalogBytes }
}

export interface ReplayResult {
  byteHitRatio: number
  objectHitRatio: number
  evictions: number
}

/**
 * Plays `trace` through a cache of `capacityBytes` run by `policy`; a blob
 * larger than the cache is fetched but not kept. Hit ratios count requests
 * from `measureFrom` on (the ones before only warm the cache).
 */
export function replay (policy: EvictionPolicy, trace: Trace, capacityBytes: number, measureFrom = 0): ReplayResult {
  let used = 0
  let hits = 0
  let hitBytes = 0
  let totalBytes = 0
  let evictions = 0
  let measured = 0
  let at = 0
  const indexOf = new Map(trace.ids.map((id, i) => [id, i]))
  for (const object of trace.requests) {
    const id = trace.ids[object] as string
    const size = trace.sizes[object] as number
    const counted = at++ >= measureFrom
    if (counted) {
      measured++
      totalBytes += size
    }
    if (policy.has(id)) {
      policy.hit(id)
      if (counted) {
        hits++
        hitBytes += size
      }
      continue
    }
    if (size > capacityBytes) {
      policy.hit(id)
      continue
    }
    if (used + size > capacityBytes) {
      for (const victim of policy.victims(used + size - capacityBytes)) {
        used -= trace.sizes[indexOf.get(victim) as number] as number
        policy.evict(victim)
        evictions++
      }
    }
    policy.add(id, size)
    used += size
  }
  return { byteHitRatio: totalBytes === 0 ? 0 : hitBytes / totalBytes, objectHitRatio: measured === 0 ? 0 : hits / measured, evictions }
}
