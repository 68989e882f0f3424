/**
 * How often each key was asked for, approximately and in bounded memory: a
 * count-min sketch with conservative update whose counters are halved every
 * `sampleSize` increments (TinyLFU's reset). Keys that left the cache keep
 * their history, and old popularity fades, so a blob that was hot last week
 * does not outrank what is hot now.
 */
export interface FrequencySketchInit {
  /** Counters per row, rounded up to a power of two (default 1024: 4 KiB for 4 rows). */
  width?: number
  /** Rows (hash functions), default 4. */
  depth?: number
  /** Increments between halvings (default 10 × width). */
  sampleSize?: number
  /** When `sampleSize` is not given, it is this many times the width (default 10, as TinyLFU); it follows the width as it grows. */
  samplesPerCounter?: number
  /** Largest count a counter holds: 255 (default), or 15 for TinyLFU's 4-bit counters. */
  maxCount?: number
}

const MAX_COUNT = 255
const DEFAULT_WIDTH = 1024
const DEFAULT_DEPTH = 4
const DEFAULT_SAMPLES_PER_COUNTER = 10

export class FrequencySketch {
  width: number
  readonly depth: number
  sampleSize: number
  readonly maxCount: number
  private counters: Uint8Array
  private mask: number
  private additions = 0
  private halvings = 0
  private readonly fixedSample: boolean
  private readonly samplesPerCounter: number
  private readonly rows: number[]

  constructor (init: FrequencySketchInit = {}) {
    const width = Math.max(16, init.width ?? DEFAULT_WIDTH)
    this.width = 2 ** Math.ceil(Math.log2(width))
    this.depth = Math.max(1, Math.min(8, init.depth ?? DEFAULT_DEPTH))
    this.fixedSample = init.sampleSize != null
    this.samplesPerCounter = Math.max(1, init.samplesPerCounter ?? DEFAULT_SAMPLES_PER_COUNTER)
    this.sampleSize = Math.max(1, init.sampleSize ?? this.samplesPerCounter * this.width)
    this.maxCount = Math.max(1, Math.min(MAX_COUNT, init.maxCount ?? MAX_COUNT))
    this.mask = this.width - 1
    this.counters = new Uint8Array(this.width * this.depth)
    this.rows = new Array<number>(this.depth).fill(0)
  }

  /** How many times the counters were halved: an estimate taken before k more halvings is worth 2^-k now. */
  get resets (): number {
    return this.halvings
  }

  /**
   * Widens the table to at least `entries` counters per row (a power of two),
   * as Caffeine sizes its sketch to the cache: the counts so far are dropped,
   * since they cannot be re-hashed, except those of the `keep` keys, whose
   * estimates are written into the new table (not counted toward the next
   * halving: they were counted already). A no-op if it is wide enough already.
   */
  ensureCapacity (entries: number, keep: Iterable<string> = []): void {
    if (!(entries > this.width)) return
    const kept = [...keep].map(key => [key, this.frequency(key)] as const)
    this.width = 2 ** Math.ceil(Math.log2(entries))
    this.mask = this.width - 1
    this.counters = new Uint8Array(this.width * this.depth)
    if (!this.fixedSample) this.sampleSize = this.samplesPerCounter * this.width
    this.additions = 0
    for (const [key, count] of kept) this.raise(key, count)
  }

  /** The estimate for `key`: never below its true count since the last halvings. */
  frequency (key: string): number {
    this.locate(key)
    let min = this.maxCount
    for (const at of this.rows) min = Math.min(min, this.counters[at] as number)
    return min
  }

  /** Counts `times` requests for `key`. */
  increment (key: string, times = 1): void {
    if (!(times >= 1)) return
    this.raise(key, Math.floor(times))
    this.additions += Math.floor(times)
    while (this.additions >= this.sampleSize) this.halve()
  }

  /** Adds `times` to the key's estimate, not to the count toward a halving. */
  private raise (key: string, times: number): void {
    this.locate(key)
    let min = this.maxCount
    for (const at of this.rows) min = Math.min(min, this.counters[at] as number)
    // Conservative update: raise only the counters at the minimum, which keeps collisions from inflating estimates.
    const target = Math.min(this.maxCount, min + times)
    for (const at of this.rows) {
      if ((this.counters[at] as number) < target) this.counters[at] = target
    }
  }

  private halve (): void {
    for (let i = 0; i < this.counters.length; i++) this.counters[i] = (this.counters[i] as number) >>> 1
    this.additions = Math.floor(this.additions / 2)
    this.halvings++
  }

  /** Fills `rows` with one counter index per row, by double hashing two 32-bit hashes of the key. */
  private locate (key: string): void {
    let h1 = 0x811c9dc5
    let h2 = 0x9747b28c
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i)
      h1 = Math.imul(h1 ^ c, 0x01000193)
      h2 = Math.imul(h2 ^ c, 0x5bd1e995)
    }
    h1 = fmix32(h1)
    h2 = fmix32(h2) | 1
    for (let r = 0; r < this.depth; r++) {
      this.rows[r] = r * this.width + ((h1 + Math.imul(r, h2)) >>> 0 & this.mask)
    }
  }
}

/** MurmurHash3's finaliser: spreads every input bit over the output. */
export function fmix32 (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
