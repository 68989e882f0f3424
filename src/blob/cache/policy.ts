import { FrequencySketch, type FrequencySketchInit } from './frequency-sketch.js'
import { IndexedMinHeap } from './indexed-heap.js'
import { AgedLfuPolicy } from './policy-aged-lfu.js'
import { ArcPolicy } from './policy-arc.js'
import { WTinyLfuPolicy } from './policy-wtinylfu.js'

/**
 * Which cached blobs to drop when room is needed. Pure bookkeeping with no
 * I/O and no clock, so the simulation can run one per modelled node and get
 * the same answers as the real cache.
 *
 * The caller owns the byte accounting: it asks `victims()` for a plan, and
 * calls `evict()` for each victim it actually drops (or `remove()` for a blob
 * that leaves for another reason, which does not age the policy).
 */
export interface EvictionPolicy {
  readonly name: string
  /** Entries tracked. */
  readonly count: number
  has: (id: string) => boolean
  /** A blob is now cached; it was just requested (the miss that fetched it). `hits` restores a count kept across restarts. */
  add: (id: string, size: number, hits?: number) => void
  /** A request for `id`: a hit if it is cached; otherwise it only feeds the frequency history. */
  hit: (id: string) => void
  /** The blob left the cache (deleted, corrupt); the policy does not learn from it. */
  remove: (id: string) => void
  /** The blob was dropped as a victim. */
  evict: (id: string) => void
  /**
   * The blobs to drop, in order, to free at least `bytesNeeded`; fewer bytes
   * if the evictable ones do not add up to that (the caller checks). Changes
   * nothing.
   */
  victims: (bytesNeeded: number, evictable?: (id: string) => boolean) => string[]
}

/** Every policy the cache and the simulation can run; `cache.policy` in the node's config takes these names. */
export const POLICY_NAMES = ['aged-lfu', 'gdsf', 'lru', 'arc', 'wtinylfu'] as const
export type PolicyName = typeof POLICY_NAMES[number]

export function isPolicyName (name: unknown): name is PolicyName {
  return typeof name === 'string' && (POLICY_NAMES as readonly string[]).includes(name)
}

export interface CapacityInit {
  /** The cache's quota in bytes: ARC and the TinyLFU policies size their lists from it. */
  capacityBytes?: number
}

/** Least recently used: the baseline. A Map keeps insertion order, so moving a key to the end is O(1). */
export class LruPolicy implements EvictionPolicy {
  readonly name = 'lru'
  private readonly sizes = new Map<string, number>()

  get count (): number {
    return this.sizes.size
  }

  has (id: string): boolean {
    return this.sizes.has(id)
  }

  add (id: string, size: number): void {
    this.sizes.delete(id)
    this.sizes.set(id, size)
  }

  hit (id: string): void {
    const size = this.sizes.get(id)
    if (size == null) return
    this.sizes.delete(id)
    this.sizes.set(id, size)
  }

  remove (id: string): void {
    this.sizes.delete(id)
  }

  evict (id: string): void {
    this.sizes.delete(id)
  }

  victims (bytesNeeded: number, evictable: (id: string) => boolean = () => true): string[] {
    const out: string[] = []
    let freed = 0
    for (const [id, size] of this.sizes) {
      if (freed >= bytesNeeded) break
      if (!evictable(id)) continue
      out.push(id)
      freed += size
    }
    return out
  }
}

export interface GdsfInit extends FrequencySketchInit {
  /**
   * Cost of a miss as size^beta. 1 ranks by frequency alone (each byte kept
   * is worth its request rate: best for byte hit ratio); 0 is classic GDSF
   * (best for object hit ratio). Default tuned with benchmarks/cache-policy.
   */
  beta?: number
}

/** The beta chosen with benchmarks/cache-policy (see benchmarks/README.md). */
export const DEFAULT_GDSF_BETA = 0.9

const MiB = 1024 * 1024

/**
 * Greedy-Dual-Size-Frequency: priority = L + frequency × cost / size, the
 * lowest priority is evicted first, and L rises to each victim's priority, so
 * entries that stop being asked for fall behind newer ones (aging) without
 * any periodic pass. Frequency comes from a sketch that outlives entries, so a
 * blob that returns after eviction keeps its history.
 */
export class GdsfPolicy implements EvictionPolicy {
  readonly name = 'gdsf'
  readonly beta: number
  private readonly sketch: FrequencySketch
  private readonly heap = new IndexedMinHeap()
  private readonly sizes = new Map<string, number>()
  private inflation = 0
  private tick = 0

  constructor (init: GdsfInit = {}) {
    this.beta = init.beta ?? DEFAULT_GDSF_BETA
    this.sketch = new FrequencySketch(init)
  }

  get count (): number {
    return this.sizes.size
  }

  /** L, the aging term: the priority of the last victim. */
  get aging (): number {
    return this.inflation
  }

  has (id: string): boolean {
    return this.sizes.has(id)
  }

  add (id: string, size: number, hits = 1): void {
    this.sketch.increment(id, Math.max(1, hits))
    this.sizes.set(id, size)
    this.heap.set(id, this.priority(id, size), ++this.tick)
  }

  hit (id: string): void {
    this.sketch.increment(id)
    const size = this.sizes.get(id)
    if (size != null) this.heap.set(id, this.priority(id, size), ++this.tick)
  }

  remove (id: string): void {
    this.heap.delete(id)
    this.sizes.delete(id)
  }

  evict (id: string): void {
    const priority = this.heap.priority(id)
    // Max, not assignment: a pinned entry skipped earlier can hold a priority below L.
    if (priority != null) this.inflation = Math.max(this.inflation, priority)
    this.remove(id)
  }

  victims (bytesNeeded: number, evictable: (id: string) => boolean = () => true): string[] {
    return this.heap.lowest(bytesNeeded, id => this.sizes.get(id) ?? 0, evictable)
  }

  private priority (id: string, size: number): number {
    // Sizes in MiB keep the terms near 1, so L + f·s^(β-1) does not lose the small term to rounding.
    const units = Math.max(size, 1) / MiB
    return this.inflation + this.sketch.frequency(id) * units ** (this.beta - 1)
  }
}

export type PolicyInit = GdsfInit & CapacityInit

export function createPolicy (name: PolicyName, init: PolicyInit = {}): EvictionPolicy {
  switch (name) {
    case 'lru': return new LruPolicy()
    case 'arc': return new ArcPolicy(init)
    case 'wtinylfu': return new WTinyLfuPolicy(init)
    case 'gdsf': return new GdsfPolicy(init)
    case 'aged-lfu': return new AgedLfuPolicy(init)
  }
}
