import { DEFAULT_POLICY_CAPACITY } from './constants.js'
import { FrequencySketch } from './frequency-sketch.js'
import { IndexedMinHeap } from './indexed-heap.js'
import type { CapacityInit, EvictionPolicy } from './policy.js'

export interface AgedLfuInit extends CapacityInit {
  /** Sketch counters per tracked entry (rounded up to a power of two). */
  sketchPerEntry?: number
  /** Smallest sketch width. */
  minSketchWidth?: number
  /** The sketch's largest count. */
  maxCount?: number
  /** Sketch increments between halvings, per counter of a row. */
  samplesPerCounter?: number
}

/**
 * Chosen with benchmarks/cache-policy: 16 counters per entry keep
 * collisions low with a catalog 100 times the cache (unit sizes, 1% cache);
 * a halving every 1.25 × width = 20 × entries increments, with counts capped
 * at 15 (4 bits), forgets a reshuffled catalog as fast as W-TinyLFU does.
 * Slower aging wins a little on stable traffic and loses more on churn.
 */
const DEFAULT_SKETCH_PER_ENTRY = 16
const DEFAULT_MIN_SKETCH_WIDTH = 1024
const DEFAULT_MAX_COUNT = 15
const DEFAULT_SAMPLES_PER_COUNTER = 1.25
/** Below one halving: a newcomer loses a tie with an entry as frequent as it, and wins against one less frequent. */
const NEWCOMER_HANDICAP = 1e-3

/**
 * Aged LFU with TinyLFU admission, for byte hit ratio on blobs of any size.
 *
 * A cached byte is worth its blob's request rate, whatever the blob's size,
 * so entries are ranked by how often the sketch says they are asked for, and
 * the least asked for goes first. The sketch halves its counters every
 * 10 × width requests; an entry's rank is kept as log2(count) + halvings so
 * far, at its last request: the order of the counts as they would be today,
 * with no pass over the entries (a count taken k halvings ago is worth 2^-k
 * now). So a model nobody asks for any more sinks as the halvings pass,
 * instead of holding the rank it had at its last request.
 *
 * Admission as TinyLFU's: a blob just fetched ranks a hair below any entry
 * as frequent, so it is the first to go unless it has been asked for more
 * often than the least valued entry: a blob asked for once does not push out
 * one asked for twice. The choice is made at the next eviction, since the
 * cache holds a blob as soon as it is fetched.
 *
 * The sketch is sized to the entries tracked, doubling as they grow (the
 * cached entries' counts carried over: O(n) per doubling, so amortized O(1)).
 * O(log n) per request: a heap update and a sketch update of fixed depth,
 * whose halving (O(width) every 1.25 × width increments) is amortized O(1).
 */
export class AgedLfuPolicy implements EvictionPolicy {
  readonly name = 'aged-lfu'
  readonly capacity: number
  private readonly sketch: FrequencySketch
  private readonly heap = new IndexedMinHeap()
  private readonly sizes = new Map<string, number>()
  private readonly sketchPerEntry: number
  private tick = 0

  constructor (init: AgedLfuInit = {}) {
    this.capacity = Math.max(1, init.capacityBytes ?? DEFAULT_POLICY_CAPACITY)
    this.sketchPerEntry = init.sketchPerEntry ?? DEFAULT_SKETCH_PER_ENTRY
    this.sketch = new FrequencySketch({ width: init.minSketchWidth ?? DEFAULT_MIN_SKETCH_WIDTH, maxCount: init.maxCount ?? DEFAULT_MAX_COUNT, samplesPerCounter: init.samplesPerCounter ?? DEFAULT_SAMPLES_PER_COUNTER })
  }

  get count (): number {
    return this.sizes.size
  }

  has (id: string): boolean {
    return this.sizes.has(id)
  }

  add (id: string, size: number, hits?: number): void {
    // The cached entries' counts carry over, or a blob restored after a restart with a long history would rank as new at its next request.
    this.sketch.ensureCapacity((this.sizes.size + 1) * this.sketchPerEntry, this.sizes.keys())
    this.sketch.increment(id, hits ?? 1)
    this.sizes.set(id, size)
    // A blob restored after a restart already earned its place.
    this.heap.set(id, this.rank(id) - (hits == null ? NEWCOMER_HANDICAP : 0), ++this.tick)
  }

  hit (id: string): void {
    this.sketch.increment(id)
    if (this.sizes.has(id)) this.heap.set(id, this.rank(id), ++this.tick)
  }

  remove (id: string): void {
    this.heap.delete(id)
    this.sizes.delete(id)
  }

  evict (id: string): void {
    this.remove(id)
  }

  victims (bytesNeeded: number, evictable: (id: string) => boolean = () => true): string[] {
    return this.heap.lowest(bytesNeeded, id => this.sizes.get(id) ?? 0, evictable)
  }

  private rank (id: string): number {
    return Math.log2(Math.max(1, this.sketch.frequency(id))) + this.sketch.resets
  }
}
