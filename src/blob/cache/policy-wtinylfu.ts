import { ByteList } from './byte-list.js'
import { DEFAULT_POLICY_CAPACITY } from './constants.js'
import { FrequencySketch } from './frequency-sketch.js'
import type { CapacityInit, EvictionPolicy } from './policy.js'

/** Caffeine's split: 1% of the bytes for the window, and 80% of the main region protected. */
export const WINDOW_SHARE = 0.01
export const PROTECTED_SHARE = 0.8
/** TinyLFU's counters are 4 bits. */
const TINYLFU_MAX_COUNT = 15
/** The sketch grows with the entries tracked, never below this width. */
const MIN_SKETCH_WIDTH = 64

/**
 * W-TinyLFU as Caffeine documents it (Einziger, Friedman & Manes, "TinyLFU:
 * A Highly Efficient Cache Admission Policy", 2017): a new blob enters a
 * small LRU window; what overflows the window becomes a candidate at the
 * recent end of the main region's probation segment, and is kept only if the
 * sketch says it is asked for more often than the probation segment's least
 * recent entry (the victim); otherwise the candidate goes. A hit in
 * probation promotes to the protected segment (80% of the main region),
 * whose overflow falls back to probation. The sketch has 4-bit counters,
 * halved every 10 × width increments, and is as wide as the entries tracked.
 * No doorkeeper and no hill climbing: the fixed 1% window of the paper.
 */
export class WTinyLfuPolicy implements EvictionPolicy {
  readonly name = 'wtinylfu'
  readonly capacity: number
  private readonly window = new ByteList()
  private readonly probation = new ByteList()
  private readonly protected = new ByteList()
  /** Probation entries that came from the window and have not met a victim yet, oldest first. */
  private readonly candidates = new Set<string>()
  private readonly sketch = new FrequencySketch({ width: MIN_SKETCH_WIDTH, maxCount: TINYLFU_MAX_COUNT })
  /** For each victim of the last plan, the candidates that were admitted before it: they join probation for good once it goes. */
  private admittedBefore = new Map<string, string[]>()

  constructor (init: CapacityInit = {}) {
    this.capacity = Math.max(1, init.capacityBytes ?? DEFAULT_POLICY_CAPACITY)
  }

  get count (): number {
    return this.window.size + this.probation.size + this.protected.size
  }

  has (id: string): boolean {
    return this.window.has(id) || this.probation.has(id) || this.protected.has(id)
  }

  add (id: string, size: number, hits?: number): void {
    this.remove(id)
    this.sketch.ensureCapacity(this.count + 1)
    this.sketch.increment(id, hits ?? 1)
    // A blob restored after a restart already earned its place.
    if (hits != null) {
      this.probation.push(id, size)
      return
    }
    this.window.push(id, size)
    const windowMax = this.capacity * WINDOW_SHARE
    while (this.window.bytes > windowMax) {
      const [oldest, bytes] = this.window.first() as [string, number]
      this.window.delete(oldest)
      this.probation.push(oldest, bytes)
      this.candidates.add(oldest)
    }
  }

  hit (id: string): void {
    this.sketch.increment(id)
    const inWindow = this.window.entries.get(id)
    if (inWindow != null) {
      this.window.push(id, inWindow)
      return
    }
    const inProtected = this.protected.entries.get(id)
    if (inProtected != null) {
      this.protected.push(id, inProtected)
      return
    }
    const inProbation = this.probation.delete(id)
    if (inProbation == null) return
    this.candidates.delete(id)
    this.protected.push(id, inProbation)
    const protectedMax = PROTECTED_SHARE * this.capacity * (1 - WINDOW_SHARE)
    while (this.protected.bytes > protectedMax && this.protected.size > 1) {
      const [oldest, bytes] = this.protected.first() as [string, number]
      this.protected.delete(oldest)
      this.probation.push(oldest, bytes)
    }
  }

  remove (id: string): void {
    this.window.delete(id)
    this.probation.delete(id)
    this.protected.delete(id)
    this.candidates.delete(id)
  }

  evict (id: string): void {
    for (const admitted of this.admittedBefore.get(id) ?? []) this.candidates.delete(admitted)
    this.remove(id)
  }

  victims (bytesNeeded: number, evictable: (id: string) => boolean = () => true): string[] {
    const out: string[] = []
    const admitted: string[] = []
    this.admittedBefore = new Map()
    let freed = 0
    const candidates = this.candidates[Symbol.iterator]()
    const nextCandidate = (): string | undefined => {
      for (let item = candidates.next(); item.done !== true; item = candidates.next()) {
        if (evictable(item.value)) return item.value
      }
      return undefined
    }
    // Victims come from probation's old end, then protected, then the window, as in Caffeine.
    const others = (function * (lists: ByteList[], skip: Set<string>) {
      for (const list of lists) for (const id of list.entries.keys()) if (!skip.has(id) && evictable(id)) yield id
    })([this.probation, this.protected, this.window], this.candidates)
    const nextVictim = (): string | undefined => {
      const item = others.next()
      return item.done === true ? undefined : item.value
    }
    let candidate = nextCandidate()
    let victim = nextVictim()
    const take = (id: string): void => {
      out.push(id)
      freed += this.sizeOf(id)
      this.admittedBefore.set(id, [...admitted])
    }
    while (freed < bytesNeeded && (candidate != null || victim != null)) {
      if (candidate != null && victim != null) {
        if (this.sketch.frequency(candidate) > this.sketch.frequency(victim)) {
          admitted.push(candidate)
          take(victim)
          victim = nextVictim()
        } else {
          take(candidate)
        }
        candidate = nextCandidate()
      } else if (candidate != null) {
        take(candidate)
        candidate = nextCandidate()
      } else if (victim != null) {
        take(victim)
        victim = nextVictim()
      }
    }
    return out
  }

  private sizeOf (id: string): number {
    return this.window.entries.get(id) ?? this.probation.entries.get(id) ?? this.protected.entries.get(id) ?? 0
  }
}
